"""Plain helpers for tests: make films the way the importer would, embed them with a chosen encoder."""

from __future__ import annotations

from django.utils.text import slugify

from catalog.models import Credit, Genre, Keyword, Movie, Person
from recommender.embedding import embed_movies
from recommender.encoders import get_encoder


def make_movie(
    *,
    title: str = "Test Film",
    genres: tuple[str, ...] = (),
    keywords: tuple[str, ...] = (),
    directors: tuple[str, ...] = (),
    cast: tuple[str, ...] = (),
    embed_with: str | None = None,
    **fields,
) -> Movie:
    """A saved film with its relations and search text; embedded when `embed_with` names a backend."""
    fields.setdefault("year", 2000)
    movie = Movie.objects.create(title=title, **fields)
    for name in genres:
        movie.genres.add(Genre.objects.get_or_create(name=name, defaults={"slug": slugify(name)})[0])
    for name in keywords:
        movie.keywords.add(Keyword.objects.get_or_create(name=name, defaults={"slug": slugify(name)})[0])
    for role, names in ((Credit.Role.DIRECTOR, directors), (Credit.Role.CAST, cast)):
        for order, name in enumerate(names):
            person, _ = Person.objects.get_or_create(name=name)
            Credit.objects.create(movie=movie, person=person, role=role, order=order)
    movie.refresh_search_text()
    if embed_with:
        embed_movies(queryset=Movie.objects.filter(pk=movie.pk), encoder=get_encoder(embed_with), show_progress=False)
        movie.refresh_from_db()
    return movie


def ids(scored: list[tuple[int, float]]) -> list[int]:
    """The film ids of a search signal's (id, score) list, best first."""
    return [pk for pk, _ in scored]


def titles(page) -> list[str]:
    """The titles of a search page's results, in order."""
    return [movie.title for movie in page.results]


def make_editor(username: str):
    """A staff user who may add, change and delete films, as the admin would require (API writes too)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="catalog", codename__in=["add_movie", "change_movie", "delete_movie"]
        )
    )
    return user
