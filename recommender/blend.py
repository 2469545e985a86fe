"""Similar films from what people liked: method `cf` ("people who liked this also liked") and the default
`blend` of co-likes, content and the quality prior, for films liked by enough people (recommender.cf); the
others are left to content (similar.similar_films falls back to knn: cold start).

The weights were chosen on the user split of benchmarks/cf_quality.py (dev users), then measured on held-out
users (benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from pgvector.django import CosineDistance

from catalog.models import Movie
from recommender import cf
from recommender.similar import CANDIDATE_FIELDS, Candidate, Ranked, _blend, _knn_pool, genre_overlap, knn_pool_size

# cf ranks by the co-like score alone: a quality prior pulls popular films up, and the films people co-like
# with a seed are not merely the popular ones (recall fell with any prior on the dev users).
CF_PRIOR = 0.0
# The default blend, weights summing to 1: co-likes, closeness of content (the film vectors), share of the
# seed's genres, quality prior. The genre share keeps the list coherent: on the dev users 0.312 recall at 87 %
# sharing a genre, against cf's 0.324 at 68 %; more weight on co-likes (0.6, 0.1, 0.2, 0.1) gave 0.317 at 84 %.
PEOPLE, CONTENT, GENRES, PRIOR = 0.55, 0.1, 0.25, 0.1
# A liked film's co-liked films count this much in recommendations against the content ranking.
RECOMMEND_PEOPLE = 0.6


def people_ranked(
    movie: Movie, liked: cf.CoLiked | None, *, method: str, base: QuerySet, limit: int, prior: float | None = None
) -> list[Ranked] | None:
    """The film's similar films by `cf` or `blend` from its co-liked films (`cf.co_liked(movie.pk)`), ranked;
    None if too few people like the film (the caller uses content: cold start)."""
    if liked is None or not liked.neighbours:
        return None
    if method == "cf":
        pool = _candidates(base, {n.pk: n.score for n in liked.neighbours})
        return _blend(list(pool.values()), seeds=[movie], prior=CF_PRIOR if prior is None else prior, limit=limit)
    return _blended(movie, base, liked, prior=PRIOR if prior is None else prior, limit=limit)


def say_who_liked(movie: Movie, liked: cf.CoLiked | None, films: list[Movie]) -> list[Movie]:
    """Add to each film's `why` how many of the seed's likers like it too ("Liked by 23 of the 40 people who
    liked Heat"), for the films people co-like with the seed (`liked`: `cf.co_liked(movie.pk)`)."""
    if liked is None:
        return films
    by_pk = {n.pk: n for n in liked.neighbours}
    for film in films:
        if (neighbour := by_pk.get(film.pk)) is not None:
            said = f"Liked by {neighbour.co_likers} of the {liked.likers} people who liked {movie.title}"
            film.why = {"liked_by": [said], **film.why}
    return films


def _blended(movie: Movie, base: QuerySet, liked: cf.CoLiked, *, prior: float, limit: int) -> list[Ranked]:
    content = {c.pk: c for c in _knn_pool(movie, base, pool=knn_pool_size())}
    people = {n.pk: n.score for n in liked.neighbours}
    others = _candidates(base, {pk: 0.0 for pk in people if pk not in content}, closeness_to=movie)
    pool = {**others, **content}
    if not pool:
        return []
    low = min(c.score for c in content.values()) if content else 0.0
    spread = (max(c.score for c in content.values()) - low) if content else 1.0
    best_people = max(people.values()) or 1.0
    genres = genre_overlap(movie, pool.values())
    rest = (1 - prior) / (1 - PRIOR)
    scored = [
        c._replace(
            score=rest
            * (
                PEOPLE * people.get(c.pk, 0.0) / best_people
                + CONTENT * max(c.score - low, 0.0) / (spread or 1.0)
                + GENRES * genres.get(c.pk, 0.0)
            )
            + prior * (0.5 if c.quality is None else c.quality)
        )
        for c in pool.values()
    ]
    # Already blended: _blend only orders them and drops duplicates (prior 0: it adds nothing).
    return _blend(scored, seeds=[movie], prior=0.0, limit=limit)


def _candidates(base: QuerySet, scores: dict[int, float], *, closeness_to: Movie | None = None) -> dict[int, Candidate]:
    """Candidates for the films of `scores` that `base` holds; with `closeness_to`, scored by their cosine
    similarity to that film's vector instead (0 without one)."""
    qs = base.with_genre_ids().filter(pk__in=list(scores))
    fields = list(CANDIDATE_FIELDS)
    vector = closeness_to.embedding if closeness_to is not None else None
    if vector is not None:
        qs = qs.annotate(distance=CosineDistance("embedding", vector))
        fields.append("distance")
    found = {}
    for pk, title, year, quality, genres, *distance in qs.values_list(*fields):
        score = 1.0 - distance[0] if distance and distance[0] is not None else scores[pk]
        score = score if closeness_to is None or distance else 0.0
        found[pk] = Candidate(pk, score, title, year, quality, tuple(genres))
    return found


def with_people(pool: list[tuple[int, float]], liked: Iterable[int], excluded: set[int]) -> list[tuple[int, float]]:
    """A recommendation's content pool [(id, score)] joined with the films co-liked with the liked ones
    (each scored by the sum of its co-like scores), both scaled to 0..1; the pool as it is if no liked film
    has co-liked films."""
    liked = list(liked)
    lists = cf.co_liked_lists(liked)  # one query for all the liked films
    people: dict[int, float] = {}
    for seed in liked:
        found = lists.get(seed)
        for neighbour in found.neighbours if found else []:
            if neighbour.pk not in excluded:
                people[neighbour.pk] = people.get(neighbour.pk, 0.0) + neighbour.score
    if not people:
        return pool
    return join_people(pool, people, weight=RECOMMEND_PEOPLE)


def join_people(
    pool: list[tuple[int, float]], people: dict[int, float], *, weight: float, excluded: frozenset[int] = frozenset()
) -> list[tuple[int, float]]:
    """A content pool [(id, score)] joined with films' co-like scores, each scaled to 0..1 over all it was
    given and weighed `weight` for co-likes, 1 - weight for content (a co-liked film outside the content pool
    gets content's share of nothing); best first, without the `excluded` films."""
    best_people = max(people.values()) or 1.0
    content = dict(pool)
    low = min(content.values(), default=0.0)
    spread = (max(content.values(), default=0.0) - low) or 1.0
    merged = {
        pk: weight * people.get(pk, 0.0) / best_people
        + ((1 - weight) * (content[pk] - low) / spread if pk in content else 0.0)
        for pk in {*content, *people}
        if pk not in excluded
    }
    return sorted(merged.items(), key=lambda item: (-item[1], item[0]))
