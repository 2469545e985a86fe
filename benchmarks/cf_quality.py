"""Quality of similar films by method, judged by what *other* people co-like: a user split of ratings_small.

    .venv/bin/python benchmarks/cf_quality.py [--phase dev|test|both|recommend] [--no-sweeps]

Catalog: TMDB 5000 (4,803 films) with links_small (MovieLens ids), embedded, in its own database
`moviesite_cf_bench` (built on first run). Ratings: The Movies Dataset's `ratings_small` (671 users). Its users
are shuffled once (seed 14) into three groups: dev-fit (50 %), dev-truth (25 %), test (25 %).

- dev phase (for choosing weights and thresholds): ratings of the dev-fit users are imported and fitted;
  truth comes from the dev-truth users.
- test phase (held out, looked at once the choices were made): ratings of all dev users are imported and
  fitted; truth comes from the test users, never used for any choice.

Truth for a seed (a film liked, rated >= 4, by >= 10 truth users): the 40 catalog films with the highest
item-item cosine over the truth users' likes, with >= 3 co-likers (the independent check's recipe on other
users). Per method: recall@40 of that truth, and genre coherence (share of the 40 films sharing a genre with
the seed). Plain peers computed here from the fit users: item-item co-like cosine, Jaccard, implicit's ALS
alone, most popular. The methods of the site (`cf`, `blend`, `knn`) run through `similar_films` itself, on
the ratings imported by `import_movies`' own code and fitted by `recommender.cf.refresh()`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
# MOVIESITE_BENCH_DB names another copy (e.g. one embedded from another document).
DATABASE = os.environ.get("MOVIESITE_BENCH_DB") or "moviesite_cf_bench"
K = 40
TRUTH_MIN_LIKERS = 10
TRUTH_MIN_CO_LIKERS = 3

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["MOVIESITE_DB_NAME"] = DATABASE

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from catalog.importers.loader import import_files  # noqa: E402
from catalog.models import ImportedRating, Movie  # noqa: E402
from recommender import blend, cf, similar, space  # noqa: E402


def ensure_catalog() -> None:
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        if not cursor.fetchone():
            cursor.execute(f"CREATE DATABASE {DATABASE}")
    call_command("migrate", verbosity=0)
    if Movie.objects.filter(embedding__isnull=False).count() < 4800:
        call_command(
            "import_movies",
            DATASETS / "tmdb-5000" / "tmdb_5000_movies.csv.gz",
            DATASETS / "the-movies-dataset" / "links_small.csv.gz",
        )


def split_users(users: np.ndarray) -> dict[str, set[int]]:
    shuffled = np.array(sorted(users))
    np.random.default_rng(14).shuffle(shuffled)
    half, three_quarters = len(shuffled) // 2, 3 * len(shuffled) // 4
    return {
        "dev-fit": set(shuffled[:half].tolist()),
        "dev-truth": set(shuffled[half:three_quarters].tolist()),
        "test": set(shuffled[three_quarters:].tolist()),
    }


def truth_of(likes: pd.DataFrame) -> dict[int, set[int]]:
    """Seed film -> its 40 most co-liked films among these users' likes (cosine, >= 3 co-likers)."""
    matrix, film_ids = cf.like_matrix(likes.userId.to_numpy(), likes.film.to_numpy())
    lists = cf.neighbour_lists(
        matrix, k=K, min_likers=TRUTH_MIN_LIKERS, min_co_likers=TRUTH_MIN_CO_LIKERS, scoring="cosine"
    )
    return {int(film_ids[seed]): {int(film_ids[c]) for c in near} for seed, (near, _, _) in lists.items() if len(near)}


def plain_lists(likes: pd.DataFrame, seeds: list[int], **options) -> dict[int, list[int]]:
    matrix, film_ids = cf.like_matrix(likes.userId.to_numpy(), likes.film.to_numpy())
    if options.pop("als", False):
        options["factors"] = cf.als_factors(matrix)
    lists = cf.neighbour_lists(matrix, k=K, **options)
    column = {int(pk): index for index, pk in enumerate(film_ids)}
    found = {}
    for seed in seeds:
        near = lists.get(column.get(seed, -1))
        found[seed] = [int(film_ids[c]) for c in near[0]] if near else []
    return found


def als_lists(likes: pd.DataFrame, seeds: list[int]) -> dict[int, list[int]]:
    matrix, film_ids = cf.like_matrix(likes.userId.to_numpy(), likes.film.to_numpy())
    factors = cf.als_factors(matrix)
    column = {int(pk): index for index, pk in enumerate(film_ids)}
    found = {}
    for seed in seeds:
        if seed not in column:
            found[seed] = []
            continue
        scores = factors @ factors[column[seed]]
        scores[column[seed]] = -np.inf
        found[seed] = [int(film_ids[c]) for c in np.argsort(-scores)[:K]]
    return found


def popular_lists(likes: pd.DataFrame, seeds: list[int]) -> dict[int, list[int]]:
    ranking = likes.film.value_counts().index.tolist()
    return {seed: [f for f in ranking[: K + 1] if f != seed][:K] for seed in seeds}


def load_fit(ratings: pd.DataFrame, users: set[int]) -> None:
    """Import the fit users' ratings with the site's own importer and fit cf on them."""
    path = Path("/tmp/cf_quality_fit.csv")
    ratings[ratings.userId.isin(users)][["userId", "movieId", "rating", "timestamp"]].to_csv(path, index=False)
    ImportedRating.objects.all().delete()
    import_files([path], force=True, show_progress=False, ratings_source="bench")
    fit = cf.refresh()
    print(f"fitted on {len(users)} users: {fit}\n")


def site_lists(seeds: list[int], method: str, **options) -> dict[int, list[int]]:
    films = Movie.objects.with_details().in_bulk(seeds)
    return {s: [m.pk for m in similar.similar_films(films[s], method=method, limit=K, **options)] for s in seeds}


@contextmanager
def patched(module, **values):
    before = {name: getattr(module, name) for name in values}
    for name, value in values.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(module, name, value)


class Judge:
    def __init__(self, truth: dict[int, set[int]], seeds: list[int]) -> None:
        self.truth, self.seeds = truth, seeds
        self.genres: dict[int, set[int]] = defaultdict(set)
        for pk, genre in Movie.genres.through.objects.values_list("movie_id", "genre_id"):
            self.genres[pk].add(genre)

    def scores(self, lists: dict[int, list[int]], seeds: list[int] | None = None) -> tuple[float, float]:
        recall, coherence = [], []
        for seed in seeds or self.seeds:
            films = lists[seed][:K]
            recall.append(len(set(films) & self.truth[seed]) / len(self.truth[seed]))
            if films:
                coherence.append(np.mean([bool(self.genres[seed] & self.genres[f]) for f in films]))
        return float(np.mean(recall)), float(np.mean(coherence)) if coherence else float("nan")

    def row(self, name: str, lists: dict[int, list[int]], seconds: float | None = None) -> None:
        recall, coherence = self.scores(lists)
        timing = f"{seconds * 1000:.0f} ms" if seconds is not None else "—"
        print(f"| {name} | {recall:.3f} | {coherence:.1%} | {timing} |", flush=True)


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def run(
    phase: str, ratings: pd.DataFrame, likes: pd.DataFrame, groups: dict[str, set[int]], *, sweeps: bool = True
) -> None:
    fit_users = groups["dev-fit"] if phase == "dev" else groups["dev-fit"] | groups["dev-truth"]
    truth_users = groups["dev-truth"] if phase == "dev" else groups["test"]
    fit_likes = likes[likes.userId.isin(fit_users)]
    truth = truth_of(likes[likes.userId.isin(truth_users)])
    seeds = sorted(truth)
    judge = Judge(truth, seeds)
    print(f"## {phase}: fit on {len(fit_users)} users, truth from {len(truth_users)} users, {len(seeds)} seeds\n")
    load_fit(ratings, fit_users)
    print("| method | recall@40 | shares a genre | per seed |")
    print("| --- | --- | --- | --- |")
    judge.row("most popular (peer)", popular_lists(fit_likes, seeds))
    judge.row("item-item cosine, >= 1 co-liker (peer)", plain_lists(fit_likes, seeds, min_likers=1, min_co_likers=1))
    judge.row("item-item cosine, >= 3 co-likers (peer)", plain_lists(fit_likes, seeds, min_likers=1, min_co_likers=3))
    judge.row(
        "item-item Jaccard (peer)", plain_lists(fit_likes, seeds, min_likers=1, min_co_likers=1, scoring="jaccard")
    )
    judge.row("implicit ALS alone (peer)", als_lists(fit_likes, seeds))
    if phase == "dev" and sweeps:
        for min_co in (1, 2, 3):
            for weight in (0.0, 0.1, 0.2, 0.4):
                lists = plain_lists(fit_likes, seeds, min_likers=1, min_co_likers=min_co, als=True, als_weight=weight)
                judge.row(f"cosine + {weight:g} x ALS, >= {min_co} co-likers", lists)
    for method in ("cf", "blend", "knn"):
        lists, seconds = timed(site_lists, seeds, method)
        judge.row(f"**{method}** (site)", lists, seconds / len(seeds))
    judge.row("tfidf (site)", site_lists(seeds, "tfidf"))
    with patched(similar, KNN_POOL=similar.POOL, KNN_GENRE_WEIGHT=0.0, KNN_PRIOR=0.3):
        judge.row("knn before this change (pool 120, no genre term)", site_lists(seeds, "knn"))
    if phase == "dev" and sweeps:
        tune(judge, seeds)
        cold_start(judge, seeds, fit_likes)
    print()


def tune(judge: Judge, seeds: list[int]) -> None:
    print("\nknn variants (pool, genre weight, prior):\n")
    for pool in (120, 300, 500):
        for genre_weight in (0.0, 0.3, 0.4):
            for prior in (0.3, 0.5, 0.7):
                with patched(similar, KNN_POOL=pool, KNN_GENRE_WEIGHT=genre_weight):
                    judge.row(
                        f"knn pool {pool}, genre {genre_weight:g}, prior {prior:g}",
                        site_lists(seeds, "knn", prior=prior),
                    )
    print("\nblend variants (people, content, genres, prior):\n")
    for weights in (
        (0.45, 0.2, 0.25, 0.1),
        (0.6, 0.1, 0.2, 0.1),
        (0.5, 0.1, 0.3, 0.1),
        (0.5, 0.2, 0.2, 0.1),
        (0.5, 0.15, 0.25, 0.1),
        (0.55, 0.1, 0.25, 0.1),
        (0.5, 0.2, 0.25, 0.05),
        (0.6, 0.2, 0.2, 0.0),
    ):
        people, content, genres, prior = weights
        with patched(blend, PEOPLE=people, CONTENT=content, GENRES=genres, PRIOR=prior):
            judge.row(f"blend {weights}", site_lists(seeds, "blend"))
    print("\ncf with a prior:\n")
    for prior in (0.05, 0.1, 0.2):
        judge.row(f"cf, prior {prior:g}", site_lists(seeds, "cf", prior=prior))


def cold_start(judge: Judge, seeds: list[int], fit_likes: pd.DataFrame) -> None:
    """Recall of co-likes against content (knn) by how many fit users like the seed: where cf starts to win
    is the cold-start threshold."""
    counts = fit_likes.film.value_counts()
    with patched(cf, MIN_LIKERS=1):
        cf.refresh()
        people = site_lists(seeds, "cf")
    content = site_lists(seeds, "knn")
    print("\nCold start: recall@40 by the seed's likers among the fit users (cf fitted with no threshold):\n")
    print("| likers | seeds | cf | knn |")
    print("| --- | --- | --- | --- |")
    for low, high in ((0, 5), (5, 10), (10, 15), (15, 25), (25, 50), (50, 10_000)):
        bucket = [s for s in seeds if low <= counts.get(s, 0) < high]
        if bucket:
            print(
                f"| {low}-{high - 1} | {len(bucket)} | {judge.scores(people, bucket)[0]:.3f} | "
                f"{judge.scores(content, bucket)[0]:.3f} |"
            )
    cf.refresh()


def recommendations(ratings: pd.DataFrame, likes: pd.DataFrame, groups: dict[str, set[int]]) -> None:
    """Held-out users: fit on the dev users; each test user with >= 10 liked catalog films gives 5 of them
    (at random) and the others are the truth. Recall@40 of the held-out liked films (of at most 40)."""
    fit_users = groups["dev-fit"] | groups["dev-truth"]
    load_fit(ratings, fit_users)
    fit_likes = likes[likes.userId.isin(fit_users)]
    matrix, film_ids = cf.like_matrix(fit_likes.userId.to_numpy(), fit_likes.film.to_numpy())
    plain = cf.neighbour_lists(matrix, k=100, min_likers=1, min_co_likers=1)
    column = {int(pk): index for index, pk in enumerate(film_ids)}
    rng = random.Random(11)
    cases = []
    for _, films in likes[likes.userId.isin(groups["test"])].groupby("userId").film:
        films = sorted(set(films.tolist()))
        if len(films) >= 10:
            rng.shuffle(films)
            cases.append((films[:5], set(films[5:])))
    print(f"## recommendations: {len(cases)} test users, 5 liked films given, the others held out\n")
    print("| method | recall@40 of held-out liked films | per request |")
    print("| --- | --- | --- |")

    def item_item(given: list[int]) -> list[int]:
        scores: dict[int, float] = defaultdict(float)
        for seed in given:
            near = plain.get(column.get(seed, -1))
            for c, score in zip(*near[:2], strict=True) if near else []:
                scores[int(film_ids[c])] += float(score)
        return [pk for pk, _ in sorted(scores.items(), key=lambda item: -item[1]) if pk not in given][:K]

    def site(given: list[int]) -> list[int]:
        return [m.pk for m in similar.recommend(liked=given, limit=K)]

    whole, hood = 10**12, -1  # recommender.space.WHOLE_MATRIX_MAX forcing either way (issue 16)
    for name, recommend, people, way in (
        ("item-item cosine, summed over the liked films (peer)", item_item, None, None),
        ("svm alone (before this change)", site, 0.0, None),
        ("**svm + co-liked films** (site)", site, blend.RECOMMEND_PEOPLE, None),
        ("svm + co-liked films, fitted on the whole matrix (issue 16)", site, blend.RECOMMEND_PEOPLE, whole),
        ("svm + co-liked films, fitted on the neighbourhood (issue 16)", site, blend.RECOMMEND_PEOPLE, hood),
    ):
        started, recalls = time.perf_counter(), []
        with (
            patched(blend, RECOMMEND_PEOPLE=people if people is not None else blend.RECOMMEND_PEOPLE),
            patched(space, WHOLE_MATRIX_MAX=space.WHOLE_MATRIX_MAX if way is None else way),
        ):
            for given, held_out in cases:
                recalls.append(len(set(recommend(given)) & held_out) / min(len(held_out), K))
        seconds = (time.perf_counter() - started) / len(cases)
        print(f"| {name} | {np.mean(recalls):.3f} | {seconds * 1000:.0f} ms |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", choices=["dev", "test", "both", "recommend"], default="both")
    parser.add_argument(
        "--no-sweeps", action="store_true", help="dev: the methods' rows only (no ALS, weight or cold-start sweeps)"
    )
    args = parser.parse_args()
    ensure_catalog()
    ratings = pd.read_csv(DATASETS / "the-movies-dataset" / "ratings_small.csv.gz")
    film_of = dict(Movie.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "pk"))
    likes = ratings[ratings.rating >= cf.LIKE_AT].assign(film=ratings.movieId.map(film_of)).dropna(subset=["film"])
    likes = likes.assign(film=likes.film.astype(np.int64))
    groups = split_users(ratings.userId.unique())
    print(f"{Movie.objects.count()} films, {len(film_of)} with a MovieLens id; {len(likes)} likes of catalog films\n")
    random.seed(0)
    if args.phase == "recommend":
        recommendations(ratings, likes, groups)
        return
    for phase in ("dev", "test") if args.phase == "both" else (args.phase,):
        run(phase, ratings, likes, groups, sweeps=not args.no_sweeps)


if __name__ == "__main__":
    main()
