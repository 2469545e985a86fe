"""Personal recommendations from 10 rated films, judged by the other films each MovieLens user liked.

    .venv/bin/python benchmarks/personal_quality.py [--test-share 0.5] [--given 10] [--seed 15]

Catalog: TMDB 5000 (`tmdb_5000_movies.csv`, 4,803 films), embedded with the site's local model from a document
like Movie.document() (title, year, genres, keywords, tagline, overview; TMDB 5000 has no credits here). The
vectors are cached in benchmarks/.cache/ (a first run embeds 4.8k texts: a few minutes on two busy cores).

Users: The Movies Dataset's `ratings_small` (671 users), mapped to the catalog through `links_small`. Users are
split in two at random (split by user): *train* users fit what needs fitting (item-item CF, most-popular), *test*
users are scored. A test user gives 10 of their rated catalog films chosen at random (their ratings, high and
low, as a Letterboxd upload would); the films they liked (4 stars and up) among the rest are held out.
recall@40 = held-out liked films among the 40 recommended / min(40, held-out liked films). No given film may be
recommended (checked). Test users need at least 5 held-out liked films.

Methods, all computed here on the same users:
- most-popular: films liked by the most train users;
- item-item CF (plain peer): cosine between films over train users' likes, summed over the given liked films;
- content (recommender.personal.content_scores: multi-positive SVM, disliked films pushed down) alone, and
  with the quality prior blended as the site does (pool of 120, prior 0.3);
- content + CF: a preview of the collaborative hook in recommender/personal.py (both rescaled to 0..1);
- the site's personal list with co-liked films (issue 14): recommender.cf's lists fitted on the train users'
  ratings by the site's own functions, joined to the content pool by recommender.personal.people_pool and
  blended with the quality prior as the site does (content and the prior alone where no liked film has a list).

Issue 16: above recommender.space.WHOLE_MATRIX_MAX films the site fits content_scores on a neighbourhood (the
films the HNSW index finds nearest the liked films, plus a random sample) instead of the whole matrix. Here the
neighbourhood is taken exactly, in memory (`neighbourhood_scores`): the dev users choose its size, the test
users compare the site's list both ways in this one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
CACHE = ROOT / "benchmarks" / ".cache"
K = 40
LIKED = 4.0
# Neighbourhoods tried on the dev users (issue 16): films nearest the liked films' mean, nearest each.
HOODS = ((1000, 0), (2000, 0), (2000, 200), (4000, 0))
MIN_HELD_OUT = 5

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from recommender import cf as site_cf  # noqa: E402
from recommender import space as spaces  # noqa: E402
from recommender.encoders import get_encoder  # noqa: E402
from recommender.personal import (  # noqa: E402
    MAX_SEEDS,
    PERSONAL_POOL,
    PERSONAL_PRIOR,
    Taste,
    content_scores,
    people_pool,
    people_scores,
)
from recommender.similar import POOL, default_prior  # noqa: E402
from recommender.space import VectorSpace  # noqa: E402


def names(value: str) -> list[str]:
    try:
        return [item["name"] for item in json.loads(value or "[]")]
    except (TypeError, ValueError):
        return []


def load_catalog() -> pd.DataFrame:
    movies = pd.read_csv(DATASETS / "tmdb-5000" / "tmdb_5000_movies.csv.gz")
    movies["year"] = pd.to_datetime(movies["release_date"], errors="coerce").dt.year
    return movies.reset_index(drop=True)


def document(row) -> str:
    year = "" if pd.isna(row.year) else f" ({int(row.year)})"
    parts = [f"{row.title}{year}"]
    if genres := names(row.genres):
        parts.append(f"Genres: {', '.join(genres)}.")
    if keywords := names(row.keywords)[:12]:
        parts.append(f"Keywords: {', '.join(keywords)}.")
    parts.extend(str(text) for text in (row.tagline, row.overview) if isinstance(text, str) and text)
    return " ".join(parts)


def embed(catalog: pd.DataFrame) -> np.ndarray:
    texts = [document(row) for row in catalog.itertuples()]
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"personal_vectors_{digest}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    vectors = np.asarray(get_encoder("local").encode(texts), dtype=np.float32)
    print(f"embedded {len(texts)} films in {time.perf_counter() - started:.0f} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def quality(catalog: pd.DataFrame) -> np.ndarray:
    """The site's quality prior (recommender/quality.py), as percentiles: how well known and well rated."""
    votes = catalog["vote_count"].where(catalog["vote_count"] > 0)
    m = votes.median()
    mean = catalog["vote_average"][votes.notna()].mean()
    weighted = (votes * catalog["vote_average"] + m * mean) / (votes + m)
    known = pd.concat([votes.rank(pct=True), catalog["popularity"].rank(pct=True)], axis=1).mean(axis=1)
    return pd.concat([known, weighted.rank(pct=True)], axis=1).mean(axis=1).fillna(0.5).to_numpy()


def load_ratings(catalog: pd.DataFrame) -> pd.DataFrame:
    links = pd.read_csv(DATASETS / "the-movies-dataset" / "links_small.csv.gz").dropna(subset=["tmdbId"])
    row_of_tmdb = {int(tmdb): row for row, tmdb in enumerate(catalog["id"])}
    movie_to_row = {
        int(m): row_of_tmdb[int(t)] for m, t in zip(links.movieId, links.tmdbId, strict=True) if int(t) in row_of_tmdb
    }
    ratings = pd.read_csv(DATASETS / "the-movies-dataset" / "ratings_small.csv.gz")
    ratings = ratings[ratings.movieId.isin(movie_to_row)].copy()
    ratings["row"] = ratings.movieId.map(movie_to_row)
    return ratings.drop_duplicates(["userId", "row"], keep="last")


def recall(ranked: list[int], held_out: set[int]) -> float:
    return len(set(ranked[:K]) & held_out) / min(K, len(held_out))


def top(scores: np.ndarray, excluded: set[int]) -> list[int]:
    scores = scores.astype(np.float64).copy()
    scores[list(excluded)] = -np.inf
    best = np.argpartition(-scores, K)[:K]
    return best[np.argsort(-scores[best])].tolist()


def with_prior(
    scores: np.ndarray, excluded: set[int], prior_values: np.ndarray, prior: float, *, pool: int
) -> list[int]:
    """The site's blend (recommender.similar._blend): a pool of the best by similarity, rescaled 0..1 over the
    pool, plus `prior` times the film's quality."""
    scores = scores.astype(np.float64).copy()
    scores[list(excluded)] = -np.inf
    best = np.argpartition(-scores, pool)[:pool]
    low, high = scores[best].min(), scores[best].max()
    blended = (1 - prior) * (scores[best] - low) / ((high - low) or 1.0) + prior * prior_values[best]
    return best[np.argsort(-blended)][:K].tolist()


def blended_pool(pool: list[tuple[int, float]], prior_values: np.ndarray, prior: float) -> list[int]:
    """The site's blend over a given pool [(film, score)]: scores rescaled 0..1, plus `prior` x quality."""
    rows = np.array([row for row, _ in pool], dtype=np.int64)
    scores = np.array([score for _, score in pool], dtype=np.float64)
    low, high = scores.min(), scores.max()
    blended = (1 - prior) * (scores - low) / ((high - low) or 1.0) + prior * prior_values[rows]
    return rows[np.lexsort((rows, -blended))][:K].tolist()


def co_liked_lists(ratings: pd.DataFrame) -> dict[int, site_cf.CoLiked]:
    """recommender.cf's co-liked lists, fitted as `cf.refresh()` does, on these ratings (film = catalog row)."""
    kept = ratings[ratings.rating >= site_cf.MEH_FROM]
    stars = kept.rating.to_numpy()
    likes, film_ids = site_cf.like_matrix(kept.userId.to_numpy(), kept.row.to_numpy(), site_cf.like_weights(stars))
    likers = np.asarray((likes >= 1.0).sum(axis=0)).ravel()
    lists = {}
    for column, (near, scores, shared) in site_cf.neighbour_lists(likes, shrink=site_cf.SHRINK).items():
        triples = zip(film_ids[near].tolist(), scores.tolist(), shared.tolist(), strict=True)
        neighbours = [site_cf.Neighbour(int(pk), float(score), int(count)) for pk, score, count in triples]
        lists[int(film_ids[column])] = site_cf.CoLiked(int(likers[column]), neighbours)
    return lists


def neighbourhood_scores(
    space: VectorSpace, taste: Taste, *, near: int, near_each: int, sample: int = spaces.SAMPLE
) -> np.ndarray | None:
    """content_scores fitted and scored on the neighbourhood the site reads above WHOLE_MATRIX_MAX films (as
    recommender.similar.space_around builds it, with exact neighbours standing in for the HNSW index's), every
    film outside it ranked below every film in it."""
    seeds = sorted(taste.liked, key=lambda pk: -taste.liked[pk])[:MAX_SEEDS]
    weights = np.array([taste.liked[pk] for pk in seeds], dtype=np.float32)
    units = space.vectors[seeds]
    mean = (units * weights[:, None]).sum(axis=0) / weights.sum()
    probes = [(mean, near)] + [(units[i], near_each) for i in range(min(spaces.NEAR_PROBES, len(seeds)))]
    rows = set()
    for probe, count in probes:
        if count:
            closeness = space.vectors @ probe
            rows.update(np.argpartition(-closeness, count)[:count].tolist())
    rng = np.random.default_rng(sum(seeds))
    rows.update(rng.integers(0, len(space.ids), size=sample).tolist())
    rows.update([*taste.liked, *taste.disliked])
    rows = np.array(sorted(rows), dtype=np.int64)
    scores = content_scores(VectorSpace("bench", 0, space.ids[rows], space.vectors[rows]), taste)
    if scores is None:
        return None
    full = np.full(len(space.ids), scores.min() - 1.0)
    full[rows] = scores
    return full


def rescaled(scores: np.ndarray) -> np.ndarray:
    low, high = np.percentile(scores, 1), scores.max()
    return np.clip((scores - low) / ((high - low) or 1.0), 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-share", type=float, default=0.5)
    parser.add_argument("--given", type=int, default=10)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    catalog = load_catalog()
    vectors = embed(catalog)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    ids = np.arange(len(catalog), dtype=np.int64)  # the catalog row stands for the film id here
    space = VectorSpace(model="bench", version=0, ids=ids, vectors=vectors)
    prior_values = quality(catalog)
    ratings = load_ratings(catalog)

    users = np.array(sorted(ratings.userId.unique()))
    test_users = set(rng.choice(users, size=int(len(users) * args.test_share), replace=False).tolist())
    train = ratings[~ratings.userId.isin(test_users) & (ratings.rating >= LIKED)]
    n = len(catalog)
    likes = np.zeros((n, len(users)), dtype=np.float32)
    user_col = {user: i for i, user in enumerate(users)}
    likes[train.row.to_numpy(), train.userId.map(user_col).to_numpy()] = 1.0
    popularity = likes.sum(axis=1)
    norms = np.sqrt(popularity)
    item_item = (likes @ likes.T) / np.maximum(np.outer(norms, norms), 1e-9)
    np.fill_diagonal(item_item, 0.0)
    site_lists = co_liked_lists(ratings[~ratings.userId.isin(test_users)])
    with_lists = 0

    def users_cases(user_ids: set[int]):
        """(given ratings, held-out liked films) for each user with enough of both."""
        for _, history in ratings[ratings.userId.isin(user_ids)].groupby("userId"):
            if len(history) < args.given + MIN_HELD_OUT:
                continue
            given = history.sample(n=args.given, random_state=int(rng.integers(1 << 31)))
            rest = history.drop(given.index)
            held_out = set(rest[rest.rating >= LIKED].row.tolist())
            if len(held_out) >= MIN_HELD_OUT:
                yield dict(zip(given.row.tolist(), given.rating.tolist(), strict=True)), held_out

    def taste(stars: dict[int, float]) -> Taste:
        liked = {row: s - 2.5 for row, s in stars.items() if s >= 3.5}
        disliked = {row: 3.0 - s for row, s in stars.items() if s <= 2.5}
        if not liked:
            liked = {row: 0.5 for row, s in stars.items() if s > 2.5}
        return Taste(liked=liked, disliked=disliked, rated=frozenset(stars))

    # Dev: the prior's weight and pool for content, chosen on train users (content and the TMDB quality prior
    # use no MovieLens rating, so fitting CF on these users does not leak into this choice).
    dev_users = set(users.tolist()) - test_users
    sweep: dict[tuple[float, int], list[float]] = {}
    hood_sweep: dict[tuple[int, int], list[float]] = {}
    for stars, held_out in users_cases(dev_users):
        content = content_scores(space, taste(stars))
        if content is None:
            continue
        for near, near_each in HOODS:
            hood = neighbourhood_scores(space, taste(stars), near=near, near_each=near_each)
            ranked = with_prior(hood, set(stars), prior_values, PERSONAL_PRIOR, pool=PERSONAL_POOL)
            hood_sweep.setdefault((near, near_each), []).append(recall(ranked, held_out))
        for prior in (0.3, 0.5, 0.7, 0.8, 0.9):
            for pool in (120, 400, 1000):
                ranked = with_prior(content, set(stars), prior_values, prior, pool=pool)
                sweep.setdefault((prior, pool), []).append(recall(ranked, held_out))
    print("dev (train users), content + quality prior: recall@40 by prior weight and pool")
    print("| prior | pool 120 | pool 400 | pool 1000 |\n| --- | --- | --- | --- |")
    for prior in (0.3, 0.5, 0.7, 0.8, 0.9):
        cells = " | ".join(f"{np.mean(sweep[(prior, pool)]):.3f}" for pool in (120, 400, 1000))
        print(f"| {prior:g} | {cells} |")
    print(f"\ndev (train users), content + prior {PERSONAL_PRIOR:g}, pool {PERSONAL_POOL}, fitted on (issue 16):")
    whole_dev = np.mean(sweep[(PERSONAL_PRIOR, PERSONAL_POOL)])
    print(f"| fitted on | recall@40 |\n| --- | --- |\n| whole matrix | {whole_dev:.3f} |")
    for (near, near_each), values in hood_sweep.items():
        print(f"| {near} nearest the mean, {near_each} nearest each liked film + sample | {np.mean(values):.3f} |")

    results: dict[str, list[float]] = {}
    whole: dict[str, list[float]] = {}
    timings: dict[str, float] = {}
    evaluated = 0
    for stars, held_out in users_cases(test_users):
        evaluated += 1
        rated = set(stars)
        user_taste = taste(stars)
        lists: dict[str, list[int]] = {"most-popular": top(popularity, rated)}
        cf = item_item[list(user_taste.liked)].sum(axis=0) if user_taste.liked else popularity
        lists["item-item CF (plain peer)"] = top(cf, rated)
        started = time.perf_counter()
        content = content_scores(space, user_taste)
        timings["content"] = timings.get("content", 0.0) + time.perf_counter() - started
        if content is None:
            content = popularity.astype(np.float64)
        lists["content (SVM, dislikes against)"] = top(content, rated)
        lists[f"content + quality prior {default_prior():g}, pool {POOL} (as similar films)"] = with_prior(
            content, rated, prior_values, default_prior(), pool=POOL
        )
        lists[f"content + quality prior {PERSONAL_PRIOR:g}, pool {PERSONAL_POOL} (the site's personal list)"] = (
            with_prior(content, rated, prior_values, PERSONAL_PRIOR, pool=PERSONAL_POOL)
        )
        fused = 0.5 * rescaled(content) + 0.5 * rescaled(cf)
        lists["content + item-item CF (hook preview)"] = top(fused, rated)
        people = people_scores(user_taste, site_lists)
        if people:
            with_lists += 1
            unrated = np.flatnonzero(~np.isin(ids, list(rated)))
            best = unrated[np.argsort(-content[unrated], kind="stable")[:PERSONAL_POOL]]
            pool = people_pool([(int(row), float(content[row])) for row in best], people, rated=frozenset(rated))
            site = blended_pool(pool, prior_values, default_prior())
        else:
            site = with_prior(content, rated, prior_values, PERSONAL_PRIOR, pool=PERSONAL_POOL)
        lists["**the site's personal list with co-liked films (issue 14)**"] = site
        started = time.perf_counter()
        hood = neighbourhood_scores(space, user_taste, near=spaces.NEAR, near_each=spaces.NEAR_EACH)
        timings["neighbourhood"] = timings.get("neighbourhood", 0.0) + time.perf_counter() - started
        hood = popularity.astype(np.float64) if hood is None else hood
        lists["content (SVM, dislikes against), on the neighbourhood (issue 16)"] = top(hood, rated)
        if people:
            unrated = np.flatnonzero(~np.isin(ids, list(rated)))
            best = unrated[np.argsort(-hood[unrated], kind="stable")[:PERSONAL_POOL]]
            pool = people_pool([(int(row), float(hood[row])) for row in best], people, rated=frozenset(rated))
            site = blended_pool(pool, prior_values, default_prior())
        else:
            site = with_prior(hood, rated, prior_values, PERSONAL_PRIOR, pool=PERSONAL_POOL)
        lists["the site's personal list, on the neighbourhood (issue 16)"] = site
        for name, ranked in lists.items():
            assert not set(ranked) & rated, f"{name} recommended a given film back"
            results.setdefault(name, []).append(recall(ranked, held_out))
            whole.setdefault(name, []).append(len(set(ranked) & held_out) / len(held_out))

    print(f"catalog {n} films; {len(ratings)} ratings of {len(users)} users mapped; test users evaluated {evaluated}")
    print(f"given {args.given} rated films each; held-out liked films >= {MIN_HELD_OUT}; seed {args.seed}")
    print(f"co-liked lists (train users): {len(site_lists)} films; test users whose liked films have one: {with_lists}")
    print(f"| method (test users) | recall@{K} | hits / all held-out |\n| --- | --- | --- |")
    for name, values in results.items():
        print(f"| {name} | {np.mean(values):.3f} | {np.mean(whole[name]):.3f} |")
    print(f"content_scores: {1000 * timings['content'] / max(evaluated, 1):.0f} ms per user (SVM fit over {n} films)")
    print(
        f"on the neighbourhood ({spaces.NEAR} nearest the mean, {spaces.NEAR_EACH} nearest each, {spaces.SAMPLE} at "
        f"random): {1000 * timings['neighbourhood'] / max(evaluated, 1):.0f} ms per user, exact neighbours in memory"
    )


if __name__ == "__main__":
    main()
