"""Personal recommendations from a user's ratings: one ranked list (the API's), and "Because you liked X" rows.

Ratings of 3½ stars and up are *liked*, 2½ and below *disliked*, 3 neutral. The content signal is the
multi-positive SVM of recommender.similar (every liked film a positive, weighted by its stars; disliked films
weighted negatives), minus a penalty for closeness to a disliked film, so low ratings count against films
like them. The best PERSONAL_POOL films by content are then blended with the quality prior at PERSONAL_PRIOR
(MovieLens users mostly like well-known films: most-popular alone beats content alone threefold in
benchmarks/personal_quality.py; content decides among the well-known). Where the liked films have co-liked
films (issue 14, recommender/cf.py: what the people who liked them also liked, from imported ratings), those
join the content ranking (`people_pool`) and the prior falls back to the similar films' weight; where they
have none (no ratings imported, or films too few people rated), content alone serves.
A film the user rated, and a hidden film, never appears. A user without ratings gets popular_and_recent().

Cost: one SVM fit over the film vectors, weighted (0.4 s per user at 4,803 films in personal_quality.py, on
two cores shared with other jobs), plus the reasons' queries. Above recommender.space.WHOLE_MATRIX_MAX films
the fit and the ranking use the liked films' neighbourhood from the database (similar.space_around), never
the whole catalog's vectors.
Lists are cached by (user, ratings version, catalog version, co-liked refit), so a page view after
the first costs a cache read; any rating, catalog change or refit makes a new key.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.core.cache import cache
from django.db.models import F
from sklearn.svm import LinearSVC

from catalog.models import Movie, Rating
from recommender.blend import RECOMMEND_PEOPLE, join_people
from recommender.cf import CoLiked, co_liked_lists, fitted_version
from recommender.similar import (
    DEFAULT_C,
    _blend,
    _films,
    _top,
    _with_facts,
    default_prior,
    similar_films,
    space_around,
)
from recommender.space import VectorSpace, catalog_version

LIKED_FROM = Decimal("3.5")
DISLIKED_UP_TO = Decimal("2.5")
# How much closeness to a disliked film (cosine, 0..1) takes from a candidate's SVM decision value (about -1..1).
DISLIKE_PENALTY = 0.5
# Disliked films weigh this much more than an ordinary negative in the SVM fit.
DISLIKE_WEIGHT = 3.0
# Reasons are looked up against at most this many liked films (the best rated, then the latest).
MAX_SEEDS = 50
ROWS = 3
ROW_SIZE = 12
CACHE_SECONDS = 60 * 60
# Popular and recent: the best-known films, a film of this year counting RECENCY_WEIGHT more than one of
# RECENT_YEARS ago and before.
RECENCY_WEIGHT = 0.35
RECENT_YEARS = 25
POPULAR_POOL = 600
# The personal list blends content with the quality prior over a wider pool and a heavier prior than similar
# films do: what someone will like next is, far more often than what is like one film, a well-known film.
# Chosen on train users by benchmarks/personal_quality.py (see RESULTS.md).
PERSONAL_PRIOR = 0.8
PERSONAL_POOL = 1000
# With co-liked films, their share of the fused score against content: recommendations' own weight
# (recommender.blend.RECOMMEND_PEOPLE, chosen on the dev users of benchmarks/cf_quality.py), taken as it is,
# with the similar films' quality prior (default_prior()): co-likes already favour films many people like.
PERSONAL_PEOPLE = RECOMMEND_PEOPLE


@dataclass(frozen=True)
class Taste:
    """A user's ratings split the way the recommender reads them."""

    liked: dict[int, float]  # film id -> weight (stars above 2½, so 3½ is 1 and 5 is 2½)
    disliked: dict[int, float]  # film id -> weight (3 minus stars, so 2½ is ½ and ½ is 2½)
    rated: frozenset[int]


@dataclass(frozen=True)
class PersonalRow:
    """One "Because you liked X" row."""

    seed: Movie
    films: list[Movie]


def taste_of(user) -> Taste:
    """The user's ratings of visible films as liked and disliked weights, and every film they rated."""
    ratings = list(Rating.objects.filter(user=user).values_list("movie_id", "stars", "movie__hidden"))
    liked = {pk: float(stars) - 2.5 for pk, stars, hidden in ratings if stars >= LIKED_FROM and not hidden}
    if not liked:  # only middling ratings: the 3-star films are the best guide there is
        liked = {pk: 0.5 for pk, stars, hidden in ratings if stars > DISLIKED_UP_TO and not hidden}
    disliked = {pk: 3.0 - float(stars) for pk, stars, hidden in ratings if stars <= DISLIKED_UP_TO and not hidden}
    return Taste(liked=liked, disliked=disliked, rated=frozenset(pk for pk, _, _ in ratings))


def ratings_version(user) -> str:
    return Rating.objects.filter(user=user).version()


def recommend_for_user(user, *, limit: int = 40) -> list[Movie]:
    """The `limit` films the user is likeliest to like, each with `.score` (0..1) and `.why` (naming under
    `because_you_liked` the liked film it shares most with); popular and recent films for a user without
    liked films. Cached by the user's ratings, the catalog version and the co-liked lists' last refit."""
    key = f"personal:{user.pk}:{ratings_version(user)}:{catalog_version()}:{fitted_version()}:{limit}"
    ids_scores = cache.get(key)
    if ids_scores is None:
        films = _recommend(taste_of(user), limit=limit)
        cache.set(key, [(film.pk, film.score, film.why) for film in films], CACHE_SECONDS)
        return films
    by_id = Movie.objects.visible().for_display().in_bulk([pk for pk, _, _ in ids_scores])
    films = []
    for pk, score, why in ids_scores:
        if pk in by_id:
            by_id[pk].score, by_id[pk].why = score, why
            films.append(by_id[pk])
    return films


def _recommend(taste: Taste, *, limit: int) -> list[Movie]:
    if not taste.liked:
        return popular_and_recent(limit=limit, exclude=taste.rated)
    seeds = list(Movie.objects.visible().with_details().filter(pk__in=_best_seeds(taste), embedding__isnull=False))
    if not seeds:
        return popular_and_recent(limit=limit, exclude=taste.rated)
    # The whole matrix on a small catalog, else the neighbourhood of the best-rated liked films (the seeds).
    strongest = {seed.pk: taste.liked[seed.pk] for seed in seeds}
    space = space_around(
        seeds[0].embedding_model, strongest, [seed.embedding for seed in seeds], [*taste.liked, *taste.disliked]
    )
    scores = content_scores(space, taste)
    if scores is None:
        return popular_and_recent(limit=limit, exclude=taste.rated)
    rows = np.flatnonzero(~np.isin(space.ids, list(taste.rated)))
    pool = [(int(space.ids[row]), score) for row, score in _top(rows, scores[rows], PERSONAL_POOL)]
    people = people_scores(taste, co_liked_lists(list(taste.liked)))
    if people:
        pool, prior = people_pool(pool, people, rated=taste.rated), default_prior()
    else:  # cold start: no liked film has co-liked films
        prior = PERSONAL_PRIOR
    ranked = _blend(_with_facts(pool), seeds=seeds, prior=prior, limit=limit)
    return _films(ranked, seeds=seeds, name_the_seed=True)


def people_scores(taste: Taste, lists: Mapping[int, CoLiked]) -> dict[int, float]:
    """What the people who liked the user's liked films also liked: each film's co-like score summed over the
    liked films that have co-liked `lists`, weighted by the user's liking; empty when none has one."""
    people: dict[int, float] = {}
    for pk, weight in taste.liked.items():
        for neighbour in lists[pk].neighbours if pk in lists else []:
            people[neighbour.pk] = people.get(neighbour.pk, 0.0) + weight * neighbour.score
    return people


def people_pool(
    pool: list[tuple[int, float]], people: dict[int, float], *, rated: frozenset[int]
) -> list[tuple[int, float]]:
    """The content `pool` [(id, score)] joined with the co-liked films, each scaled to 0..1 and weighed
    PERSONAL_PEOPLE to the rest: a co-liked film outside the content pool gets content's share of nothing. No
    rated film joins (hidden ones are dropped by the caller's `_with_facts`)."""
    return join_people(pool, people, weight=PERSONAL_PEOPLE, excluded=rated)


def content_scores(space: VectorSpace, taste: Taste) -> np.ndarray | None:
    """A score for every film of the space (row by row): the multi-positive SVM's decision value (liked films
    positives weighted by their stars, disliked films heavier negatives), less DISLIKE_PENALTY times the
    film's cosine to the closest disliked film. None when no liked film has a vector in the space."""
    positives = space.rows_of(list(taste.liked))
    if not len(positives):
        return None
    negatives = space.rows_of(list(taste.disliked))
    weights = np.ones(len(space.ids), dtype=np.float64)
    liked_weight = dict(taste.liked)
    disliked_weight = dict(taste.disliked)
    weights[positives] = [liked_weight[int(pk)] for pk in space.ids[positives]]
    weights[negatives] = [DISLIKE_WEIGHT * disliked_weight[int(pk)] for pk in space.ids[negatives]]
    labels = np.zeros(len(space.ids), dtype=np.int8)
    labels[positives] = 1
    # The same fit as similar.py's exemplar SVM (Karpathy's settings), on every film up to 8k films.
    train = _training_rows(space, positives, negatives)
    svm = LinearSVC(class_weight="balanced", C=DEFAULT_C, max_iter=10000, tol=1e-6, dual="auto")
    svm.fit(space.vectors[train], labels[train], sample_weight=weights[train])
    scores = svm.decision_function(space.vectors)
    if len(negatives):
        closeness = (space.vectors @ space.vectors[negatives].T).max(axis=1)
        scores = scores - DISLIKE_PENALTY * np.clip(closeness, 0, None)
    return scores


def _training_rows(space: VectorSpace, positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    from recommender.similar import FULL_FIT_MAX, HARD_NEGATIVES, RANDOM_NEGATIVES

    n = len(space.ids)
    if n <= FULL_FIT_MAX:
        return np.arange(n)
    closeness = space.vectors @ space.vectors[positives].mean(axis=0)
    hard = np.argpartition(-closeness, HARD_NEGATIVES)[:HARD_NEGATIVES]
    rng = np.random.default_rng(int(space.ids[positives].sum()))
    sample = rng.choice(n, size=min(RANDOM_NEGATIVES, n), replace=False)
    return np.unique(np.concatenate([hard, sample, positives, negatives]))


def _best_seeds(taste: Taste) -> list[int]:
    """The liked films that explain recommendations: the best rated first (dicts keep rating order: latest)."""
    return sorted(taste.liked, key=lambda pk: -taste.liked[pk])[:MAX_SEEDS]


def because_you_liked(user, *, rows: int = ROWS, per_row: int = ROW_SIZE) -> list[PersonalRow]:
    """Up to `rows` rows, one per top-rated liked film: its nearest films (knn with the quality prior), none
    the user rated, films close to one they disliked pushed down, no film twice across rows."""
    taste = taste_of(user)
    if not taste.liked:
        return []
    key = f"personal-rows:{user.pk}:{ratings_version(user)}:{catalog_version()}:{rows}:{per_row}"
    kept = cache.get(key)
    if kept is None:
        kept = _rows(taste, rows=rows, per_row=per_row)
        cache.set(key, kept, CACHE_SECONDS)
    by_id = (
        Movie.objects.visible()
        .for_display()
        .in_bulk([seed for seed, _ in kept] + [pk for _, films in kept for pk, _ in films])
    )
    result = []
    for seed, films in kept:
        shown = []
        for pk, why in films:
            if pk in by_id:
                by_id[pk].why = why
                shown.append(by_id[pk])
        if seed in by_id and shown:
            result.append(PersonalRow(seed=by_id[seed], films=shown))
    return result


def _rows(taste: Taste, *, rows: int, per_row: int) -> list[tuple[int, list[tuple[int, dict]]]]:
    ranked_seeds = sorted(taste.liked, key=lambda pk: -taste.liked[pk])
    seeds = Movie.objects.visible().with_details().filter(pk__in=ranked_seeds[: rows * 3], embedding__isnull=False)
    by_id = {seed.pk: seed for seed in seeds}
    disliked = _vectors(list(taste.disliked))
    disliked_vectors = np.vstack(list(disliked.values())) if disliked else None
    shown: set[int] = set(taste.rated)
    result = []
    for pk in ranked_seeds:
        if pk not in by_id:
            continue
        similar = [film for film in similar_films(by_id[pk], method="knn", limit=60) if film.pk not in shown]
        if disliked_vectors is not None and similar:
            vectors = _vectors([film.pk for film in similar])
            closeness = {pk: float((disliked_vectors @ vector).max()) for pk, vector in vectors.items()}
            penalty = {pk: DISLIKE_PENALTY * max(value, 0.0) for pk, value in closeness.items()}
            similar.sort(key=lambda film: -(film.score - penalty.get(film.pk, 0.0)))
        films = similar[:per_row]
        if films:
            shown.update(film.pk for film in films)
            result.append((pk, [(film.pk, film.why) for film in films]))
        if len(result) == rows:
            break
    return result


def _vectors(ids: list[int]) -> dict[int, np.ndarray]:
    """Unit vectors of those films that have one."""
    rows = Movie.objects.filter(pk__in=ids, embedding__isnull=False).values_list("pk", "embedding")
    vectors = {}
    for pk, embedding in rows:
        vector = np.asarray(embedding, dtype=np.float32)
        vectors[pk] = vector / max(float(np.linalg.norm(vector)), 1e-12)
    return vectors


def popular_and_recent(*, limit: int, exclude: frozenset[int] | set[int] = frozenset()) -> list[Movie]:
    """Well-known, well-rated films, recent ones first among equals: the row for a user with no ratings.

    The quality prior (votes, popularity, rating; 0..1) plus up to RECENCY_WEIGHT for a film of this year,
    falling to none at RECENT_YEARS old. Each film's `.why` says what it is."""
    this_year = datetime.date.today().year
    pool = list(
        Movie.objects.visible()
        .exclude(pk__in=list(exclude))
        .filter(features__quality__isnull=False)
        .order_by(F("features__quality").desc(nulls_last=True), "pk")
        .values_list("pk", "year", "features__quality")[:POPULAR_POOL]
    )
    if not pool:  # a catalog without figures: the most popular by the film's own number
        pool = list(
            Movie.objects.visible()
            .exclude(pk__in=list(exclude))
            .order_by(F("popularity").desc(nulls_last=True), "pk")
            .values_list("pk", "year", "popularity")[:POPULAR_POOL]
        )
        pool = [(pk, year, 0.5) for pk, year, _ in pool]

    def score(year: int | None, quality: float) -> float:
        age = this_year - year if year else RECENT_YEARS
        return quality + RECENCY_WEIGHT * max(0.0, 1 - max(age, 0) / RECENT_YEARS)

    best = sorted(pool, key=lambda row: (-score(row[1], row[2]), row[0]))[:limit]
    top = score(best[0][1], best[0][2]) if best else 1.0
    by_id = Movie.objects.visible().for_display().in_bulk([pk for pk, _, _ in best])
    films = []
    for pk, year, quality in best:
        film = by_id[pk]
        film.score = round(score(year, quality) / top, 6) if top else 0.0
        film.why = {"popular": ["Popular and well rated" + (" and recent" if year and this_year - year <= 5 else "")]}
        films.append(film)
    return films
