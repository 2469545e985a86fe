"""Staff writes through the API: a film's fields and its genres, keywords and credits given by name."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from catalog.changes import after_films_change
from catalog.models import Credit, Genre, Keyword, Movie, Person


def save_movie(
    *,
    movie: Movie | None = None,
    fields: dict[str, Any],
    genres: list[str] | None = None,
    keywords: list[str] | None = None,
    directors: list[str] | None = None,
    cast: list[str] | None = None,
) -> Movie:
    """Create a film (no `movie`) or update one; a relation given as None is left as it is.

    Always goes through `Movie.save()`, so `updated_at` moves even when only relations change: caches of
    the catalog watch it. What derives from its text is refreshed here (`after_films_change`); the embedding is not (see
    `vector_status`).
    """
    with transaction.atomic():
        movie = movie if movie is not None else Movie(source="api")
        for name, value in fields.items():
            setattr(movie, name, value)
        movie.save()
        if genres is not None:
            movie.genres.set([_named(Genre, name) for name in genres])
        if keywords is not None:
            movie.keywords.set([_named(Keyword, name) for name in keywords])
        if directors is not None:
            _set_credits(movie, Credit.Role.DIRECTOR, directors)
        if cast is not None:
            _set_credits(movie, Credit.Role.CAST, cast)
        after_films_change([movie.pk])
    movie.refresh_from_db(fields=["people_text", "tags_text"])
    return movie


def _named(model: type[Genre] | type[Keyword], name: str) -> Genre | Keyword:
    """The genre or keyword called `name`, matched regardless of case or punctuation ("sci fi" is "Sci-Fi")."""
    slug = slugify(name, allow_unicode=True)[:200]
    match = Q(name__iexact=name) | Q(slug=slug) if slug else Q(name__iexact=name)
    return model.objects.filter(match).order_by("pk").first() or model.objects.create(name=name, slug=slug)


def _person(name: str) -> Person:
    return Person.objects.filter(name__iexact=name).order_by("pk").first() or Person.objects.create(name=name)


def _set_credits(movie: Movie, role: str, names: list[str]) -> None:
    """Make `names` the film's credits in `role`, in billing order; kept people keep their character names."""
    people = list(dict.fromkeys(_person(name) for name in names))
    movie.credits.filter(role=role).exclude(person__in=people).delete()
    existing = {credit.person_id: credit for credit in movie.credits.filter(role=role)}
    for order, person in enumerate(people):
        credit = existing.get(person.pk)
        if credit is None:
            Credit.objects.create(movie=movie, person=person, role=role, order=order)
        elif credit.order != order:
            credit.order = order
            credit.save(update_fields=["order"])
