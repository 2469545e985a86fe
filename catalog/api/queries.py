"""Reads behind the API's filter-building lists (genres, people). Films themselves are read through
`Movie.objects` verbs; these lists exist only for the API, so their queries live beside it."""

from __future__ import annotations

from django.contrib.postgres.search import TrigramWordSimilarity
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from catalog.models import Genre, Person


def genres_with_counts() -> QuerySet[Genre]:
    """Genres with at least one visible film, each with `.film_count`, by name."""
    return (
        Genre.objects.annotate(film_count=Count("movies", filter=Q(movies__hidden=False), distinct=True))
        .filter(film_count__gt=0)
        .order_by("name")
    )


# pg_trgm's word-similarity threshold (0.6) misses a one-letter typo in a short name ("scorcese" is 0.5 from
# Scorsese); people_matching's callers evaluate it under this one (moviesite.db.local_settings).
NAME_SIMILARITY_THRESHOLD = 0.4


def people_matching(query: str = "", *, role: str = "") -> QuerySet[Person]:
    """People credited in visible films (in `role` when given), each with `.film_count`.

    With a query: names starting with it first, then names with a word starting with it, then names close to
    it letter by letter (pg_trgm's word similarity: "kubrik" still finds Stanley Kubrick); the busiest first
    among equals. Without one: the busiest people first.
    """
    credited = Q(credits__movie__hidden=False)
    if role:
        credited &= Q(credits__role=role)
    people = Person.objects.annotate(film_count=Count("credits__movie", filter=credited, distinct=True)).filter(
        film_count__gt=0
    )
    query = " ".join(query.split())
    if not query:
        return people.order_by("-film_count", "name")
    return (
        people.filter(Q(name__istartswith=query) | Q(name__icontains=f" {query}") | Q(name__trigram_word_similar=query))
        .annotate(
            prefix=Case(
                When(name__istartswith=query, then=Value(2)),
                When(name__icontains=f" {query}", then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            closeness=TrigramWordSimilarity(query, "name"),
        )
        .order_by("-prefix", "-closeness", "-film_count", "name")
    )
