"""Collaborative filtering: films people also like, from imported ratings (catalog.models.ImportedRating).

A user *likes* a film rated LIKE_AT stars or more. Two films are co-liked by the people who like both. Each
film liked by at least MIN_LIKERS people gets its MAX_NEIGHBOURS most co-liked films, kept in CoLikedList,
scored by item-item cosine with two corrections measured on a user split (benchmarks/cf_quality.py, dev users:
recall@40 of what *other* people co-like 0.324, against 0.310 for plain Jaccard and 0.295 for plain cosine):

    score(a, b) = cosine_w(a, b) x shared(a, b) / (shared(a, b) + SHRINK)

- cosine_w weighs a like 1 and a lukewarm rating (MEH_FROM up to LIKE_AT stars) MEH_WEIGHT: a 3-star rating
  is weak evidence that the film appeals to the same people, and 671 users give little evidence to waste;
- the shrink factor (significance weighting) discounts a pair seen together by one or two people, whose
  cosine is mostly chance.

The counts said in `why` ("liked by 23 of the 40 people who liked Heat") are exact counts of likes.
`implicit`'s ALS item factors were measured too (alone, and added to the cosine with ALS_WEIGHT): on 335
users they lose recall (0.145 alone), so ALS_WEIGHT is 0 and the factors are not fitted; `als_factors` is kept
for a larger ratings set, where it may pay (set ALS_WEIGHT and measure).

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
from django.core.cache import cache
from django.db import connection, transaction
from scipy import sparse

from catalog.models import ImportedRating
from recommender.models import CoLikedList

LIKE_AT = 4.0
MEH_FROM = 3.0
MEH_WEIGHT = 0.3
SHRINK = 2.0
# Below this many likers a film's lists fall back to content (cold start). On the dev users, seeds with 5-9
# likers found as much by content as by co-likes (0.064 both, 9 seeds); from 10 likers co-likes win clearly
# (0.241 against 0.092 at 10-14).
MIN_LIKERS = 10
MIN_CO_LIKERS = 1
MAX_NEIGHBOURS = 120
ALS_WEIGHT = 0.0
ALS_FACTORS = 64
ALS_ITERATIONS = 15
ALS_REGULARIZATION = 0.05
# Set to the time of the last refit, so that lists cached from the co-liked films (recommender.personal) are
# keyed by it. The site's cache is per process: another process sees the refit when its cached lists expire.
FITTED_KEY = "cf:fitted"
CHUNK = 256  # films per block of the co-like product: bounds memory at (CHUNK x films) counts


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


def like_matrix(
    users: np.ndarray, films: np.ndarray, weights: np.ndarray | None = None
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(users x films likes, the film id of each column) from parallel arrays: 1 a like, or `weights`."""
    user_index = pd.factorize(users)[0]
    film_index, film_ids = pd.factorize(films, sort=True)
    values = np.ones(len(user_index), dtype=np.float32) if weights is None else weights.astype(np.float32)
    likes = sparse.coo_matrix(
        (values, (user_index, film_index)), shape=(int(user_index.max(initial=-1)) + 1, len(film_ids))
    ).tocsr()
    likes.data = np.minimum(likes.data, 1.0)  # a rating counted twice is one rating
    return likes, np.asarray(film_ids)


def like_weights(ratings: np.ndarray) -> np.ndarray:
    """1 for a like, MEH_WEIGHT for a lukewarm rating (MEH_FROM up to LIKE_AT), 0 below."""
    return np.where(ratings >= LIKE_AT, 1.0, np.where(ratings >= MEH_FROM, MEH_WEIGHT, 0.0))


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
    shrink: float = 0.0,
    als_weight: float = ALS_WEIGHT,
    factors: np.ndarray | None = None,
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each film column liked by `min_likers` or more: (neighbour columns, scores, co-likers), best first.

    `likes` holds 1 for a like and a smaller weight for a lukewarm rating (see like_weights): likers and
    co-likers count the likes (1s); cosine weighs every rating by its weight.
    scoring: "cosine" (co-likers / sqrt(likers x likers)) or "jaccard" (co-likers / either's likers);
    `shrink` multiplies by co-likers / (co-likers + shrink); `als_weight` x the cosine of the ALS `factors`
    is added where they are given.
    """
    binary = likes.copy()
    binary.data = (binary.data >= 1.0).astype(np.float32)
    binary.eliminate_zeros()
    by_film, binary_by_film = likes.T.tocsr(), binary.T.tocsr()
    likers = np.asarray(binary_by_film.sum(axis=1)).ravel()
    norms = np.sqrt(np.asarray(by_film.multiply(by_film).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    seeds = np.flatnonzero(likers >= min_likers)
    lists = {}
    for start in range(0, len(seeds), CHUNK):
        block = seeds[start : start + CHUNK]
        counts = (binary_by_film[block] @ binary).tocsr()  # co-likers of each seed with every film
        weighted = (by_film[block] @ likes).tocsr()
        for row, seed in enumerate(block):
            begin, end = counts.indptr[row], counts.indptr[row + 1]
            columns, shared = counts.indices[begin:end], counts.data[begin:end]
            keep = (shared >= min_co_likers) & (columns != seed)
            columns, shared = columns[keep], shared[keep]
            if scoring == "jaccard":
                scores = shared / (likers[seed] + likers[columns] - shared)
            else:
                products = weighted[row].toarray().ravel()[columns]
                scores = products / (norms[seed] * norms[columns])
            if shrink:
                scores = scores * shared / (shared + shrink)
            if factors is not None and als_weight:
                scores = scores + als_weight * (factors[columns] @ factors[seed])
            top = np.argsort(-scores, kind="stable")[:k]
            lists[int(seed)] = (columns[top], scores[top].astype(np.float32), shared[top].astype(np.int32))
    return lists


# --- the database side -----------------------------------------------------------------------------------


def load_likes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user keys, film ids, stars) of every imported rating of MEH_FROM stars or more, read in one COPY and
    parsed by numpy a block at a time (no Python object per row: 25M ratings make 400 MB of arrays)."""
    table = ImportedRating._meta.db_table
    # One key per (source, user): users of two datasets are different people.
    sql = (
        f'COPY (SELECT dense_rank() OVER (ORDER BY source), "user", movie_id, (rating * 2)::int FROM {table} '
        f"WHERE rating >= {MEH_FROM}) TO STDOUT"
    )
    parts, rest = [], b""
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for block in copy:
            block = rest + bytes(block)
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                parts.append(np.array(block[:cut].split(), dtype=np.int64))
    values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    rows = values.reshape(-1, 4)
    return (rows[:, 0] << 32) | rows[:, 1], rows[:, 2], rows[:, 3] / 2


def refresh(*, stdout: TextIO | None = None) -> Fit:
    """Refit the co-liked lists of every film from the imported ratings (a plain function, so an import's
    `catalog_imported` signal can call it too)."""
    started = time.monotonic()
    users, films, stars = load_likes()
    fit = Fit(ratings=int((stars >= LIKE_AT).sum()), users=len(np.unique(users[stars >= LIKE_AT])))
    lists = {}
    if fit.ratings:
        likes, film_ids = like_matrix(users, films, like_weights(stars))
        factors = als_factors(likes) if ALS_WEIGHT else None
        by_column = neighbour_lists(likes, shrink=SHRINK, factors=factors)
        likers = np.asarray((likes >= 1.0).sum(axis=0)).ravel()
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
    cache.set(FITTED_KEY, time.time(), None)
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


def fitted_version() -> float:
    """When the co-liked lists were last refitted (0 if unknown to this process's cache)."""
    return cache.get(FITTED_KEY, 0)


def co_liked_lists(pks: list[int]) -> dict[int, CoLiked]:
    """co_liked() of several films in one query: only the films that have a list are in the answer."""
    rows = CoLikedList.objects.filter(movie_id__in=pks).values_list(
        "movie_id", "likers", "movie_ids", "scores", "co_likers"
    )
    return {
        pk: CoLiked(likers, [Neighbour(*item) for item in zip(ids, scores, shared, strict=True)])
        for pk, likers, ids, scores, shared in rows
    }
