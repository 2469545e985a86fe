"""Collaborative filtering: films people also like, from imported ratings (catalog.models.Rating).

A user *likes* a film rated LIKE_AT stars or more. Two films are co-liked by the people who like both. Each
film liked by at least MIN_LIKERS people gets its MAX_NEIGHBOURS most co-liked films, kept in CoLikedList:

    score(a, b) = cosine(a, b) + ALS_WEIGHT * als(a, b)

where cosine(a, b) = co-likers / sqrt(likers(a) x likers(b)) (plain item-item co-like similarity, at least
MIN_CO_LIKERS co-likers), and als(a, b) the cosine of the two films' item factors from `implicit`'s
alternating least squares over the same likes. The co-like counts are exact (and say why: "liked by 23 of the
40 people who liked Heat"); the factors smooth them where few people rated both films, which lifts recall of
what *other* people co-like (benchmarks/cf_quality.py, benchmarks/RESULTS.md).

Lists are exact and precomputed: reading one is a primary-key lookup, and a catalog of 10k rated films keeps
1M pairs. `refresh()` refits everything (after an import that changed ratings, or `manage.py fit_cf`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import NamedTuple, TextIO

import numpy as np
import pandas as pd
from django.db import connection, transaction
from scipy import sparse

from catalog.models import Rating
from recommender.models import CoLikedList

LIKE_AT = 4.0
# Below this many likers a film's co-likes are noise and its lists fall back to content (cold start):
# chosen on the user split of benchmarks/cf_quality.py.
MIN_LIKERS = 10
MIN_CO_LIKERS = 2
MAX_NEIGHBOURS = 120
ALS_WEIGHT = 0.0
ALS_FACTORS = 64
ALS_ITERATIONS = 15
ALS_REGULARIZATION = 0.05
CHUNK = 2000  # films per block of the co-like product: bounds memory at (CHUNK x films) counts


@dataclass
class Fit:
    ratings: int = 0
    users: int = 0
    films: int = 0  # films with a co-liked list
    pairs: int = 0
    elapsed: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.films} films with co-liked lists ({self.pairs} pairs) from {self.ratings} likes of "
            f"{self.users} users in {self.elapsed:.1f}s"
        )


class Neighbour(NamedTuple):
    pk: int
    score: float
    co_likers: int


@dataclass(frozen=True)
class CoLiked:
    """A film's co-liked films, best first, and how many people like the film."""

    likers: int
    neighbours: list[Neighbour]


# --- fitting (pure: arrays in, arrays out; benchmarks/cf_quality.py measures these very functions) ----------


def like_matrix(users: np.ndarray, films: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(users x films binary likes, the film id of each column) from parallel arrays of likes."""
    user_index = pd.factorize(users)[0]
    film_index, film_ids = pd.factorize(films, sort=True)
    likes = sparse.csr_matrix(
        (np.ones(len(user_index), dtype=np.float32), (user_index, film_index)),
        shape=(int(user_index.max(initial=-1)) + 1, len(film_ids)),
    )
    likes.data[:] = 1.0  # a like counted twice is one like
    return likes, np.asarray(film_ids)


def als_factors(likes: sparse.csr_matrix, *, factors: int = ALS_FACTORS, seed: int = 0) -> np.ndarray:
    """Each film's item factors from implicit's ALS over the likes, L2-normalised (rows of films)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit warns (and slows) with threaded BLAS
    from implicit.als import AlternatingLeastSquares

    model = AlternatingLeastSquares(
        factors=factors, regularization=ALS_REGULARIZATION, iterations=ALS_ITERATIONS, random_state=seed
    )
    model.fit(likes, show_progress=False)
    vectors = np.asarray(
        model.item_factors.to_numpy() if hasattr(model.item_factors, "to_numpy") else model.item_factors
    )
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


def neighbour_lists(
    likes: sparse.csr_matrix,
    *,
    k: int = MAX_NEIGHBOURS,
    min_likers: int = MIN_LIKERS,
    min_co_likers: int = MIN_CO_LIKERS,
    scoring: str = "cosine",
    als_weight: float = ALS_WEIGHT,
    factors: np.ndarray | None = None,
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each film column liked by `min_likers` or more: (neighbour columns, scores, co-likers), best first.

    scoring: "cosine" (co-likers / sqrt(likers x likers)) or "jaccard" (co-likers / either's likers);
    `als_weight` x the cosine of the ALS `factors` is added where it is given.
    """
    by_film = likes.T.tocsr()
    likers = np.asarray(by_film.sum(axis=1)).ravel()
    seeds = np.flatnonzero(likers >= min_likers)
    lists = {}
    for start in range(0, len(seeds), CHUNK):
        block = seeds[start : start + CHUNK]
        counts = (by_film[block] @ likes).tocsr()  # co-likers of each seed with every film
        for row, seed in enumerate(block):
            begin, end = counts.indptr[row], counts.indptr[row + 1]
            columns, shared = counts.indices[begin:end], counts.data[begin:end]
            keep = (shared >= min_co_likers) & (columns != seed)
            columns, shared = columns[keep], shared[keep]
            if scoring == "jaccard":
                scores = shared / (likers[seed] + likers[columns] - shared)
            else:
                scores = shared / np.sqrt(likers[seed] * likers[columns])
            if factors is not None and als_weight:
                scores = scores + als_weight * (factors[columns] @ factors[seed])
            top = np.argsort(-scores, kind="stable")[:k]
            lists[int(seed)] = (columns[top], scores[top].astype(np.float32), shared[top].astype(np.int32))
    return lists


# --- the database side -----------------------------------------------------------------------------------


def load_likes() -> tuple[np.ndarray, np.ndarray]:
    """(user keys, film ids) of every imported like, read in one COPY (25M ratings hold a few million likes)."""
    users, films = [], []
    table = Rating._meta.db_table
    with connection.cursor() as cursor:
        # One key per (source, user): users of two datasets are different people.
        sql = (
            f'COPY (SELECT dense_rank() OVER (ORDER BY source), "user", movie_id FROM {table} '
            f"WHERE rating >= {LIKE_AT}) TO STDOUT"
        )
        with cursor.cursor.copy(sql) as copy:
            for row in copy.rows():
                users.append((int(row[0]) << 32) | int(row[1]))
                films.append(int(row[2]))
    return np.array(users, dtype=np.int64), np.array(films, dtype=np.int64)


def refresh(*, stdout: TextIO | None = None) -> Fit:
    """Refit the co-liked lists of every film from the imported ratings (a plain function, so an import's
    `catalog_imported` signal can call it too)."""
    started = time.monotonic()
    users, films = load_likes()
    fit = Fit(ratings=len(users), users=len(np.unique(users)))
    lists = {}
    if len(users):
        likes, film_ids = like_matrix(users, films)
        factors = als_factors(likes) if ALS_WEIGHT else None
        by_column = neighbour_lists(likes, factors=factors)
        likers = np.asarray(likes.sum(axis=0)).ravel()
        lists = {
            int(film_ids[column]): (int(likers[column]), film_ids[near], scores, shared)
            for column, (near, scores, shared) in by_column.items()
        }
    with transaction.atomic():
        CoLikedList.objects.all().delete()
        table = CoLikedList._meta.db_table
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} (movie_id, likers, movie_ids, scores, co_likers) FROM STDIN") as copy,
        ):
            for pk, (count, near, scores, shared) in lists.items():
                copy.write_row([pk, count, near.tolist(), [round(float(s), 6) for s in scores], shared.tolist()])
    fit.films, fit.pairs = len(lists), sum(len(item[1]) for item in lists.values())
    fit.elapsed = time.monotonic() - started
    return fit


def co_liked(pk: int) -> CoLiked | None:
    """The film's co-liked films, or None if too few people like it (cold start: content alone)."""
    row = CoLikedList.objects.filter(movie_id=pk).values_list("likers", "movie_ids", "scores", "co_likers").first()
    if row is None:
        return None
    likers, ids, scores, shared = row
    return CoLiked(likers, [Neighbour(*item) for item in zip(ids, scores, shared, strict=True)])
