"""Similar films and recommendations.

Three ways to rank the catalog against a film:
- knn: cosine over the film vectors, straight from the HNSW index;
- svm: Karpathy's exemplar SVM, the film the one positive and the other films negatives, ranked by the
  decision function; it learns which directions of the space make this film itself;
- tfidf: cosine over TF-IDF vectors of words, word pairs and names, explainable by the terms two films share.

Each method draws a pool of candidates larger than asked for; the pool is then blended with the films'
quality prior (so among nearly equally similar films the well-known, well-rated one comes first) and
cleared of the seed's duplicates and of films that duplicate each other. Every method's list at its default
settings is kept in SimilarList for the catalog version it was computed at (a refit of the co-liked lists
bumps the version too), so a film's page computes it once per change and then reads one row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connections, router
from django.db.models import OuterRef, QuerySet
from pgvector.django import MaxInnerProduct
from sklearn.svm import LinearSVC

from catalog import params
from catalog.models import Movie, normalise_title
from moviesite.db import reading
from recommender import space as spaces
from recommender.encoders import unit_rows
from recommender.explain import features, shared
from recommender.models import CatalogVersion, SimilarList
from recommender.space import VectorSpace, catalog_version, neighbourhood, uses_whole_matrix, vector_space
from recommender.tfidf import shared_terms, tfidf_of, vocabulary

METHODS = tuple(params.SIMILAR_METHODS)
# Methods whose default lists are kept (SimilarList) and can be computed ahead (`manage.py warm_similar`).
KEPT_METHODS = METHODS
RECOMMEND_METHODS = tuple(params.RECOMMEND_METHODS)
MAX_RESULTS = params.MAX_SIMILAR
DEFAULT_C = params.DEFAULT_C
# Up to this many films an SVM is fitted on all of them, as Karpathy's is (0.1 s at 5.7k films). Above it,
# on the films nearest the positives (the hard negatives, which decide where the margin goes) plus a
# random sample of the rest: 0.1 s instead of 1 s at 34k films, with 95 % of the full fit's top 40. Since
# issue 16 a catalog that large gives the fit a neighbourhood from the database instead of the whole matrix
# (recommender.space.WHOLE_MATRIX_MAX), which is fitted whole; the sampling here serves a larger space only
# if WHOLE_MATRIX_MAX is raised.
FULL_FIT_MAX = 8000
HARD_NEGATIVES = 4000
RANDOM_NEGATIVES = 1000
# Candidates every method draws before the quality prior and duplicate removal pick the list. The same for
# every method and every limit, so a list of 10 is the first 10 of the list of 40 (and of the kept 100).
# 220 candidates were measured too: they raised knn's recall of co-liked films a little (0.083 against 0.079
# at prior 0.3) but cost knn 5 ms more at 34k films (11.6 against 6.2 ms for the index scan), so 120 it is.
POOL = MAX_RESULTS + 20
# knn draws a larger pool and weighs how many genres a candidate shares with the seed (Jaccard over genre
# sets) beside its closeness: vectors of synopses alone let a thriller's nearest be a drama about the same
# city. Chosen on the dev users of benchmarks/cf_quality.py: co-liked recall 0.060 -> 0.099 and genre
# coherence 80 % -> 91 % (pool 120 -> 500, genre share 0 -> 0.3, prior 0.3 -> 0.5); a prior of 0.7 found a
# little more (0.109) but fell to 84 % coherence.
KNN_POOL = 500
# Above KNN_FULL_POOL_FILMS films the pool shrinks by KNN_POOL_PER_DOUBLING per doubling of the catalog, down to
# no fewer than KNN_MIN_POOL (at a million films: 200). The pool's HNSW walk reads each candidate's row (its
# vector is stored out of line), which at a million films is most of a first call: 39 ms p50 cold with 500,
# 20 ms with 200, recall@40 of the exact neighbours 0.982 against 0.970 (benchmarks/RESULTS.md, "A million
# films", "Keyword search at a million films, cut again; knn's pool by catalog size"). Up to
# 50,000 films the pool is KNN_POOL exactly, so benchmarks/cf_quality.py's figures (4,803 films) stand as
# measured.
KNN_FULL_POOL_FILMS = 50_000
KNN_POOL_PER_DOUBLING = 70
KNN_MIN_POOL = 200
KNN_GENRE_WEIGHT = 0.3
# knn's own quality prior, stronger than the other methods' (SIMILAR_PRIOR_WEIGHT): among films whose
# synopses read alike, the well-known ones are far more often the ones people also like.
KNN_PRIOR = 0.5


class Candidate(NamedTuple):
    """A film a method found, with its raw similarity and what the blend needs to know of it (and, for the
    methods that weigh shared genres, its genre ids)."""

    pk: int
    score: float
    title: str
    year: int | None
    quality: float | None
    genres: tuple[int, ...] = ()


@dataclass(frozen=True)
class Ranked:
    """One film of a ranked list: its id, its blended score, and (for tfidf) the terms it shares."""

    pk: int
    score: float
    terms: tuple[str, ...] = ()


def default_prior() -> float:
    return settings.SIMILAR_PRIOR_WEIGHT


def similar_films(
    movie: Movie,
    *,
    method: str = params.DEFAULT_SIMILAR_METHOD,
    limit: int = params.SIMILAR_COUNT,
    C: float = DEFAULT_C,
    prior: float | None = None,
    candidates: QuerySet | None = None,
) -> list[Movie]:
    """The `limit` films most like `movie` by `method`, each with `.score` (0..1) and `.why`; the film itself,
    hidden films and copies are never among them.

    `candidates`, when given, narrows the films that may appear; without it, every visible film may. Lists
    are kept (and read back) only without `candidates` and at the method's default settings: the lists a
    film's page shows. Pass `movie` from `for_similar()` (one query) or `with_details()` so the reasons cost
    no further queries.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    explicit_prior = prior is not None
    prior = default_prior() if prior is None else prior
    narrowed = candidates is not None
    base = (candidates if narrowed else Movie.objects.all()).visible().exclude(pk=movie.pk)
    # A film's page asks for a method at its default settings over every visible film: that list is kept (and
    # read back, one indexed row) until the catalog changes or the co-liked lists are refitted (both bump the
    # catalog version). Any other setting, or narrowed candidates, is computed each time, so the table cannot
    # grow without bound.
    if method in ("svm", "tfidf"):
        keep = not narrowed and (C, prior) == (DEFAULT_C, default_prior())
        options = _options(method, C=C, prior=prior)
    else:
        keep = not narrowed and not explicit_prior
        options = "default"
    if method in ("cf", "blend"):
        # Films enough people liked rank by who liked them too (recommender.blend, which builds on this
        # module's pools, hence imported here); the others fall back to content (cold start).
        from recommender.blend import people_ranked, say_who_liked
        from recommender.cf import co_liked

        liked = co_liked(movie.pk)  # read once, for the ranking (when computed) and for the reasons

        def compute() -> list[Ranked]:
            people = people_ranked(
                movie, liked, method=method, base=base, limit=MAX_RESULTS, prior=prior if explicit_prior else None
            )
            if people is not None:
                return people
            return _knn_ranked(movie, base, prior=prior if explicit_prior else KNN_PRIOR, limit=MAX_RESULTS)

        ranked = _cached(movie, method, options, compute) if keep else compute()
        return say_who_liked(movie, liked, _films(ranked[:limit], seeds=[movie]))

    def compute() -> list[Ranked]:
        if method == "knn":
            return _knn_ranked(movie, base, prior=prior if explicit_prior else KNN_PRIOR, limit=MAX_RESULTS)
        return _slow_method(movie, method, base, C=C, prior=prior, narrowed=narrowed)

    ranked = (_cached(movie, method, options, compute) if keep else compute())[:limit]
    return _films(ranked, seeds=[movie])


def recommend(
    *,
    liked: list[int],
    disliked: list[int] = (),
    limit: int = params.SIMILAR_COUNT,
    method: str = params.DEFAULT_RECOMMEND_METHOD,
    C: float = DEFAULT_C,
    prior: float | None = None,
) -> list[Movie]:
    """Films for someone who liked `liked` (and not `disliked`), each with `.score` and `.why`.

    svm fits one model with every liked film a positive; centroid ranks by cosine to the liked films' mean
    (minus a share of the disliked ones'). Liked films without a vector are left out; none left: no list.
    """
    if method not in RECOMMEND_METHODS:
        raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(RECOMMEND_METHODS)}.")
    prior = default_prior() if prior is None else prior
    seeds = list(Movie.objects.visible().with_details().filter(pk__in=liked, embedding__isnull=False))
    if not seeds:
        return []
    positive = {seed.pk: 1.0 for seed in seeds}
    space = space_around(seeds[0].embedding_model, positive, [seed.embedding for seed in seeds], disliked)
    positives = space.rows_of([seed.pk for seed in seeds])
    negatives = space.rows_of(list(disliked))
    if not len(positives):
        return []
    if method == "svm":
        rows, scores = _svm_scores(space, positives, negatives, C=C)
    else:
        target = space.vectors[positives].mean(axis=0)
        if len(negatives):
            target = target - 0.5 * space.vectors[negatives].mean(axis=0)
        rows, scores = np.arange(len(space.ids)), space.vectors @ target
    excluded = {*space.ids[positives].tolist(), *space.ids[negatives].tolist()}
    pool = [(int(space.ids[r]), float(s)) for r, s in _top(rows, scores, POOL + len(excluded))]
    pool = [(pk, score) for pk, score in pool if pk not in excluded]
    # Films people co-like with the liked ones join the content ranking (recommender.blend builds on this
    # module, hence imported here).
    from recommender.blend import with_people

    pool = with_people(pool, [seed.pk for seed in seeds], excluded | {int(pk) for pk in disliked})
    ranked = _blend(_with_facts(pool), seeds=seeds, prior=prior, limit=limit)
    return _films(ranked, seeds=seeds, name_the_seed=True)


def warm_similar(movies: list[Movie], *, method: str) -> int:
    """Compute and keep the lists of `movies` not kept for the current catalog yet; returns how many."""
    options = _options(method, C=DEFAULT_C, prior=default_prior()) if method in ("svm", "tfidf") else "default"
    version = catalog_version()
    kept = set(
        SimilarList.objects.filter(
            movie__in=movies, method=method, options=options, catalog_version=version
        ).values_list("movie_id", flat=True)
    )
    todo = [movie for movie in movies if movie.pk not in kept]
    for movie in todo:
        similar_films(movie, method=method, limit=MAX_RESULTS)
    return len(todo)


# --- ranking ---------------------------------------------------------------------------------------------


def knn_pool_size(films: int | None = None) -> int:
    """How many candidates knn draws in a catalog of `films` films (by default about as many as there are,
    `space.catalog_size`): KNN_POOL up to KNN_FULL_POOL_FILMS, then KNN_POOL_PER_DOUBLING fewer per doubling,
    at least KNN_MIN_POOL (and never more than KNN_POOL)."""
    films = spaces.catalog_size() if films is None else films
    if films <= KNN_FULL_POOL_FILMS:
        return KNN_POOL
    shrunk = round(KNN_POOL - KNN_POOL_PER_DOUBLING * math.log2(films / KNN_FULL_POOL_FILMS))
    return min(KNN_POOL, max(KNN_MIN_POOL, shrunk))


def _knn_ranked(movie: Movie, base: QuerySet, *, prior: float, limit: int) -> list[Ranked]:
    pool = _knn_pool(movie, base, pool=knn_pool_size())
    genres = genre_overlap(movie, pool)
    return _blend(pool, seeds=[movie], prior=prior, limit=limit, genres=genres, genre_weight=KNN_GENRE_WEIGHT)


def genre_overlap(movie: Movie, pool: Iterable[Candidate]) -> dict[int, float]:
    """How much of its genres each candidate shares with the seed: |shared| / |either's| (Jaccard). The
    candidates carry their genre ids (MovieQuerySet.with_genre_ids), the seed too or its prefetched genres."""
    mine = set(movie.genre_ids) if hasattr(movie, "genre_ids") else {genre.pk for genre in movie.genres.all()}
    if not mine:
        return {}
    return {c.pk: len(mine.intersection(c.genres)) / len(mine.union(c.genres)) for c in pool if c.genres}


# What a pool's query reads of each candidate: Candidate's fields after the score.
CANDIDATE_FIELDS = ("pk", "title", "year", "features__quality", "genre_ids")


def _knn_pool(movie: Movie, base: QuerySet, *, pool: int) -> list[Candidate]:
    if movie.embedding is None:
        return []
    # The candidates' genres come in the same query (one statement, not a second one listing 500 ids).
    rows = base.with_genre_ids().nearest(
        movie.embedding, model=movie.embedding_model, limit=pool, fields=CANDIDATE_FIELDS
    )
    return [
        Candidate(pk, similarity, title, year, quality, tuple(genres))
        for pk, title, year, quality, genres, similarity in rows
    ]


def _slow_method(movie: Movie, method: str, base: QuerySet, *, C: float, prior: float, narrowed: bool) -> list[Ranked]:
    if method == "tfidf":
        return _tfidf_ranked(movie, base, prior=prior)
    if movie.embedding is None:
        return []
    space = space_around(movie.embedding_model, {movie.pk: 1.0}, [movie.embedding])
    positives = space.rows_of([movie.pk])
    if not len(positives):  # e.g. its vector is from another model than the catalog's
        return []
    rows, scores = _svm_scores(space, positives, np.array([], dtype=np.int64), C=C)
    keep = rows != positives[0]
    if narrowed:
        keep &= np.isin(space.ids[rows], list(base.values_list("pk", flat=True)))
    pool = _top(rows[keep], scores[keep], POOL)
    return _blend(_with_facts([(int(space.ids[r]), s) for r, s in pool]), seeds=[movie], prior=prior, limit=MAX_RESULTS)


def space_around(model: str, positives: dict[int, float], vectors: list, include: Iterable[int] = ()) -> VectorSpace:
    """The vectors to fit and rank on for these positives (film id -> weight, their `vectors` in the same
    order): the whole catalog's matrix while it is small, else the positives' neighbourhood from the database
    (recommender.space), which holds the films of `include` (other positives, negatives) too."""
    if uses_whole_matrix():
        return vector_space(model)
    units = unit_rows(np.asarray([np.asarray(v, dtype=np.float32) for v in vectors], dtype=np.float32))
    weights = np.asarray(list(positives.values()), dtype=np.float32)
    mean = (units * weights[:, None]).sum(axis=0) / max(float(weights.sum()), 1e-12)
    strongest = np.argsort(-weights, kind="stable")[: spaces.NEAR_PROBES] if len(units) > 1 else []
    return neighbourhood(
        model,
        [mean, *(units[i] for i in strongest)],
        include=sorted({*positives, *(int(pk) for pk in include)}),
        seed=sum(positives),  # the same positives always see the same random sample
    )


def _svm_scores(space: VectorSpace, positives: np.ndarray, negatives: np.ndarray, *, C: float):
    """Fit a linear SVM with `positives` as the positive rows; return candidate rows and their decisions."""
    n = len(space.ids)
    if n <= FULL_FIT_MAX:
        train = candidates = np.arange(n)
    else:
        closeness = space.vectors @ space.vectors[positives].mean(axis=0)
        candidates = np.argpartition(-closeness, HARD_NEGATIVES)[:HARD_NEGATIVES]
        # Seeded by the positives, so the same film always gets the same list.
        rng = np.random.default_rng(int(space.ids[positives].sum()))
        sample = rng.choice(n, size=min(RANDOM_NEGATIVES, n), replace=False)
        train = np.unique(np.concatenate([candidates, sample, positives, negatives]))
    labels = np.isin(train, positives).astype(np.int8)
    svm = LinearSVC(class_weight="balanced", C=C, max_iter=10000, tol=1e-6, dual="auto")
    svm.fit(space.vectors[train], labels)
    return candidates, svm.decision_function(space.vectors[candidates])


def _top(rows: np.ndarray, scores: np.ndarray, count: int) -> list[tuple[int, float]]:
    count = min(count, len(rows))
    if not count:
        return []
    best = np.argpartition(-scores, count - 1)[:count]
    best = best[np.argsort(-scores[best])]
    return [(int(rows[i]), float(scores[i])) for i in best]


def _tfidf_ranked(movie: Movie, base: QuerySet, *, prior: float) -> list[Ranked]:
    seed = tfidf_of(movie)
    if seed is None:
        return []
    rows = list(
        base.filter(features__tfidf__isnull=False)
        .annotate(negative_product=MaxInnerProduct("features__tfidf", seed))
        .order_by("negative_product")
        .values_list("pk", "negative_product", "features__tfidf", "title", "year", "features__quality")[:POOL]
    )
    vectors = {row[0]: row[2] for row in rows}
    pool = [  # a negative product of 0 or more: nothing shared, not similar at all
        Candidate(pk, -negative, title, year, quality) for pk, negative, _, title, year, quality in rows if negative < 0
    ]
    ranked = _blend(pool, seeds=[movie], prior=prior, limit=MAX_RESULTS)
    terms = vocabulary()
    return [Ranked(r.pk, r.score, tuple(shared_terms(seed, vectors[r.pk], terms))) for r in ranked]


def _with_facts(pool: list[tuple[int, float]]) -> list[Candidate]:
    """Candidates from (id, score) pairs found in memory, for the films still visible."""
    facts = {
        pk: (title, year, quality)
        for pk, title, year, quality in Movie.objects.visible()
        .filter(pk__in=[pk for pk, _ in pool])
        .values_list("pk", "title", "year", "features__quality")
    }
    return [Candidate(pk, score, *facts[pk]) for pk, score in pool if pk in facts]


def _blend(
    pool: list[Candidate],
    *,
    seeds: list[Movie],
    prior: float,
    limit: int,
    genres: dict[int, float] | None = None,
    genre_weight: float = 0.0,
) -> list[Ranked]:
    """Rank the pool by similarity (scaled to 0..1 over the pool) blended with each film's quality prior (and,
    with `genre_weight`, its share of the seed's `genres`), keeping one film per title and year and none that
    duplicates a seed."""
    if not pool:
        return []
    high, low = max(c.score for c in pool), min(c.score for c in pool)
    spread = (high - low) or 1.0
    genres = genres or {}
    # The genre share is part of the similarity, so `prior` keeps its meaning (0 = similarity only).
    closeness, genre_share = (1 - prior) * (1 - genre_weight), (1 - prior) * genre_weight

    def value(c: Candidate) -> float:
        return closeness * (c.score - low) / spread + genre_share * genres.get(c.pk, 0.0) + prior * _quality(c)

    blended = sorted(pool, key=lambda c: (-value(c), c.pk))
    seen = {_same_film(seed.title, seed.year) for seed in seeds}
    ranked = []
    for candidate in blended:
        key = _same_film(candidate.title, candidate.year)
        if key in seen:
            continue
        seen.add(key)
        ranked.append(Ranked(candidate.pk, round(value(candidate), 6)))
        if len(ranked) == limit:
            break
    return ranked


def _quality(candidate: Candidate) -> float:
    """The film's quality prior; a film without figures counts as middling."""
    return 0.5 if candidate.quality is None else candidate.quality


def _same_film(title: str, year: int | None) -> tuple[str, int | None]:
    """Films with this key are copies of one film: the normalised title (as the importer matches them) and the
    year."""
    return normalise_title(title), year


# --- caching and presentation ----------------------------------------------------------------------------


def _options(method: str, *, C: float, prior: float) -> str:
    """The settings a kept list was computed with (part of its key)."""
    return f"C={C:g} prior={prior:g}" if method == "svm" else f"prior={prior:g}"


# The current catalog version and the list kept for it, in one statement (the version comes back when no list
# does: a new list is kept under it).
KEPT_SQL = f"""
    SELECT v.version, k.movie_ids, k.scores, k.terms::text
    FROM (SELECT coalesce((SELECT version FROM {CatalogVersion._meta.db_table} WHERE id = 1), 0) AS version) v
    LEFT JOIN {SimilarList._meta.db_table} k
        ON k.movie_id = %s AND k.method = %s AND k.options = %s AND k.catalog_version = v.version"""


KEEP_SQL = f"""
    INSERT INTO {SimilarList._meta.db_table}
        (movie_id, method, options, catalog_version, movie_ids, scores, terms, computed_at)
    VALUES (%s, %s, %s, %s, %s::bigint[], %s::double precision[], %s::jsonb, now())
    ON CONFLICT (movie_id, method, options) DO UPDATE SET catalog_version = EXCLUDED.catalog_version,
        movie_ids = EXCLUDED.movie_ids, scores = EXCLUDED.scores, terms = EXCLUDED.terms,
        computed_at = EXCLUDED.computed_at"""


def _cached(movie: Movie, method: str, options: str, compute) -> list[Ranked]:
    """The kept list for the current catalog version, or a new one computed and kept."""
    with reading(SimilarList).cursor() as cursor:
        cursor.execute(KEPT_SQL, [movie.pk, method, options])
        version, ids, scores, terms = cursor.fetchone()
    if ids is not None:
        terms = json.loads(terms)
        return [Ranked(pk, score, tuple(words)) for pk, score, words in zip(ids, scores, terms, strict=True)]
    ranked = compute()
    # Kept under the version read before computing: a change committed meanwhile makes it stale at once. One
    # statement, in autocommit (the ORM's upsert wraps its single statement in BEGIN and COMMIT).
    terms = json.dumps([list(r.terms) for r in ranked])
    with connections[router.db_for_write(SimilarList)].cursor() as cursor:
        cursor.execute(
            KEEP_SQL, [movie.pk, method, options, version, [r.pk for r in ranked], [r.score for r in ranked], terms]
        )
    return ranked


def _films(ranked: list[Ranked], *, seeds: list[Movie], name_the_seed: bool = False) -> list[Movie]:
    """The ranked films, loaded for display (visible ones only), with `.score` and `.why`: what each shares
    with the seed (for recommendations: with the liked film it shares most with, named under
    `because_you_liked`)."""
    seed_features = [(seed, features(seed)) for seed in seeds]
    # Only the keywords a result shares with a seed matter: read with the films (an array each, in the same
    # query), not all their keywords. Keyword names are unique: matching by name is matching by keyword.
    seed_keywords = sorted({name for _, seed in seed_features for name in seed["keywords"]})
    through = Movie.keywords.through
    shared_keywords = through.objects.filter(movie_id=OuterRef("pk"), keyword__name__in=seed_keywords)
    by_id = (
        Movie.objects.visible()
        .annotate(shared_keywords=ArraySubquery(shared_keywords.values("keyword__name")))
        .in_bulk_for_display([r.pk for r in ranked])
    )
    films = []
    for item in ranked:
        film = by_id.get(item.pk)
        if film is None:
            continue
        # None when the seeds have no keyword (the subquery's IN list is empty): then no keyword is shared.
        mine = features(film, keywords=film.shared_keywords or [])
        options = [(seed, shared(theirs, mine)) for seed, theirs in seed_features]
        seed, why = max(options, key=lambda option: sum(len(names) for names in option[1].values()))
        if name_the_seed:
            why = {"because_you_liked": [str(seed)], **why}
        if item.terms:
            why["terms"] = list(item.terms)
        film.score, film.why = item.score, why
        films.append(film)
    return films
