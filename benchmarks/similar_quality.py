"""Quality of similar films and recommendations, judged by what MovieLens users liked together.

    .venv/bin/python benchmarks/similar_quality.py [--seeds 300] [--users 200]

The catalog is TMDB 5000 (4,803 films; the IMDB files merged onto it for directors and cast, films found only
in those hidden) in its own database `moviesite_similar_bench`, a copy of `moviesite_search_bench` (see
benchmarks/search_quality.py, which builds that one).

Ground truth, from The Movies Dataset's `ratings_small` (100k ratings of 671 users) through `links_small`:
a user *likes* a film rated 4 or more. For a seed film liked by at least 20 users, its *co-liked* films are
the 40 catalog films with the highest item-item cosine over likes (co-likers / sqrt(likers(seed) x
likers(film)), at least 3 co-likers): films the same people like, not merely films everyone likes.

Per method and quality-prior weight, over the 40 films returned:
- recall@40 of the co-liked films;
- genre share: how many share a genre with the seed;
- franchise: films of the seed's own series per list (same title stem: "Alien" / "Aliens" / "Alien 3");
- director: films by the seed's director per list (seeds whose director the catalog knows).
References: 40 random films, and genre-only (most shared genres, ties broken at random or by quality).

Recommendations: for users with at least 10 liked catalog films, 5 of them (at random) are the liked films
and the rest are held out; recall@40 of the held-out films for each recommendation method.

`--paths whole neighbourhood` computes the svm and recommendation rows both ways in this one run (issue 16):
from the whole catalog's matrix, and from the neighbourhood the HNSW index gives (recommender/space.py),
whatever the catalog's size would choose.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import sys
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets" / "the-movies-dataset"
# MOVIESITE_BENCH_DB names another copy (e.g. one embedded from another document).
DATABASE = os.environ.get("MOVIESITE_BENCH_DB") or "moviesite_similar_bench"
K = 40
MIN_LIKERS = 20
MIN_CO_LIKERS = 3
PRIORS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7)

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["MOVIESITE_DB_NAME"] = DATABASE

import django  # noqa: E402

django.setup()

from catalog.models import Credit, Movie  # noqa: E402
from recommender import space  # noqa: E402
from recommender.models import SimilarList  # noqa: E402
from recommender.similar import recommend, similar_films  # noqa: E402


@contextlib.contextmanager
def path(name: str | None):
    """svm and recommendations from the whole matrix or from neighbourhoods (None: as the catalog's size says)."""
    before = space.WHOLE_MATRIX_MAX
    if name is not None:
        space.WHOLE_MATRIX_MAX = 10**12 if name == "whole" else -1
    try:
        yield
    finally:
        space.WHOLE_MATRIX_MAX = before


def likes_by_film() -> dict[int, set[int]]:
    """Catalog film id -> the users who rated it 4 or more."""
    links = pd.read_csv(DATASETS / "links_small.csv.gz").dropna(subset=["tmdbId"])
    to_film = dict(Movie.objects.visible().filter(tmdb_id__isnull=False).values_list("tmdb_id", "pk"))
    movie_to_film = {
        int(row.movieId): to_film[int(row.tmdbId)] for row in links.itertuples() if int(row.tmdbId) in to_film
    }
    ratings = pd.read_csv(DATASETS / "ratings_small.csv.gz")
    liked = ratings[ratings.rating >= 4.0]
    likers: dict[int, set[int]] = defaultdict(set)
    for row in liked.itertuples():
        film = movie_to_film.get(int(row.movieId))
        if film is not None:
            likers[film].add(int(row.userId))
    return likers


def co_liked(seed: int, likers: dict[int, set[int]]) -> set[int]:
    mine = likers[seed]
    scores = []
    for film, theirs in likers.items():
        if film == seed:
            continue
        common = len(mine & theirs)
        if common >= MIN_CO_LIKERS:
            scores.append((common / np.sqrt(len(mine) * len(theirs)), film))
    scores.sort(reverse=True)
    return {film for _, film in scores[:K]}


def stem(title: str) -> str:
    """A series' shared title: accents, case, subtitles and sequel numbers removed ("Alien 3" -> "alien")."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().casefold()
    folded = re.split(r"[:\-(]", folded)[0]
    folded = re.sub(r"\b(part|chapter|episode|the|a|an)\b|\b[ivx]+\b|\d+", " ", folded)
    words = re.sub(r"[^a-z ]+", " ", folded).split()
    return " ".join(words).removesuffix("s")


class Catalog:
    """What the metrics need to know of every visible film, loaded once."""

    def __init__(self) -> None:
        rows = Movie.objects.visible().values_list("pk", "title", "features__quality")
        self.ids = [pk for pk, _, _ in rows]
        self.stems = {pk: stem(title) for pk, title, _ in rows}
        self.quality = {pk: quality if quality is not None else 0.5 for pk, _, quality in rows}
        self.genres: dict[int, set[str]] = defaultdict(set)
        for pk, genre in Movie.objects.visible().values_list("pk", "genres__name"):
            if genre:
                self.genres[pk].add(genre)
        self.directors: dict[int, set[str]] = defaultdict(set)
        for pk, name in Credit.objects.filter(role=Credit.Role.DIRECTOR, movie__hidden=False).values_list(
            "movie_id", "person__name"
        ):
            self.directors[pk].add(name)

    def same_series(self, seed: int, film: int) -> bool:
        return len(self.stems[seed]) >= 4 and self.stems[seed] == self.stems[film]


def genre_only(seed: int, catalog: Catalog, rng: random.Random, *, by_quality: bool) -> list[int]:
    mine = catalog.genres[seed]

    def key(film: int) -> tuple[float, float]:
        theirs = catalog.genres[film]
        overlap = len(mine & theirs) / (len(mine | theirs) or 1)
        return overlap, catalog.quality[film] if by_quality else rng.random()

    return sorted((film for film in catalog.ids if film != seed), key=key, reverse=True)[:K]


def evaluate(lists: dict[int, list[int]], truth: dict[int, set[int]], catalog: Catalog) -> dict[str, float]:
    recall, genre, series, director = [], [], [], []
    for seed, films in lists.items():
        recall.append(len(set(films) & truth[seed]) / len(truth[seed]))
        genre.append(np.mean([bool(catalog.genres[seed] & catalog.genres[f]) for f in films]) if films else 0.0)
        series.append(sum(catalog.same_series(seed, f) for f in films))
        if catalog.directors[seed]:
            director.append(sum(bool(catalog.directors[seed] & catalog.directors[f]) for f in films))
    return {
        "recall": float(np.mean(recall)),
        "genre": float(np.mean(genre)),
        "series": float(np.mean(series)),
        "director": float(np.mean(director)) if director else float("nan"),
    }


def row(name: str, metrics: dict[str, float], seconds: float | None = None) -> str:
    timing = f"{seconds * 1000:.0f} ms" if seconds is not None else "—"
    return (
        f"| {name} | {metrics['recall']:.3f} | {metrics['genre']:.0%} | {metrics['series']:.2f} | "
        f"{metrics['director']:.2f} | {timing} |"
    )


def similar_quality(
    seeds: list[int],
    truth: dict[int, set[int]],
    catalog: Catalog,
    methods: list[str],
    priors: tuple[float, ...] = PRIORS,
    paths: tuple[str | None, ...] = (None,),
) -> None:
    rng = random.Random(7)
    print("| method | recall@40 co-liked | shares a genre | own series per list | own director per list | per seed |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        row(
            "random 40", evaluate({s: rng.sample([f for f in catalog.ids if f != s], K) for s in seeds}, truth, catalog)
        )
    )
    print(
        row("genre-only", evaluate({s: genre_only(s, catalog, rng, by_quality=False) for s in seeds}, truth, catalog))
    )
    print(
        row(
            "genre-only, ties by quality",
            evaluate({s: genre_only(s, catalog, rng, by_quality=True) for s in seeds}, truth, catalog),
        )
    )
    films = Movie.objects.with_details().in_bulk(seeds)
    for method in methods:
        for prior in priors:
            for way in paths if method == "svm" else (None,):
                SimilarList.objects.all().delete()
                started = time.perf_counter()
                with path(way):
                    lists = {
                        s: [m.pk for m in similar_films(films[s], method=method, limit=K, prior=prior)] for s in seeds
                    }
                elapsed = (time.perf_counter() - started) / len(seeds)
                name = f"{method}, prior {prior:g}" + (f", {way}" if way else "")
                print(row(name, evaluate(lists, truth, catalog), elapsed), flush=True)


def recommendation_quality(likers: dict[int, set[int]], users: int, paths: tuple[str | None, ...] = (None,)) -> None:
    liked_by_user: dict[int, list[int]] = defaultdict(list)
    for film, people in likers.items():
        for user in people:
            liked_by_user[user].append(film)
    with_vectors = set(Movie.objects.visible().filter(embedding__isnull=False).values_list("pk", flat=True))
    rng = random.Random(11)
    eligible = sorted(u for u, films in liked_by_user.items() if len([f for f in films if f in with_vectors]) >= 10)
    chosen = rng.sample(eligible, min(users, len(eligible)))
    print(f"\nRecommendations for {len(chosen)} users (5 liked films given, the others held out):\n")
    print("| method | recall@40 of held-out liked films | per request |")
    print("| --- | --- | --- |")
    splits = []
    for user in chosen:
        films = sorted(f for f in liked_by_user[user] if f in with_vectors)
        rng.shuffle(films)
        splits.append((films[:5], set(films[5:])))
    for method in ("svm", "centroid"):
        for prior in (0.0, 0.3):
            for way in paths:
                recalls, started = [], time.perf_counter()
                with path(way):
                    for given, held_out in splits:
                        result = recommend(liked=given, limit=K, method=method, prior=prior)
                        recalls.append(len({m.pk for m in result} & held_out) / min(len(held_out), K))
                elapsed = (time.perf_counter() - started) / len(splits)
                name = f"{method}, prior {prior:g}" + (f", {way}" if way else "")
                print(f"| {name} | {np.mean(recalls):.3f} | {elapsed * 1000:.0f} ms |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--methods", nargs="*", default=["knn", "svm", "tfidf"])
    parser.add_argument("--no-recommendations", action="store_true")
    parser.add_argument("--priors", nargs="*", type=float, default=list(PRIORS))
    parser.add_argument("--paths", nargs="*", choices=["whole", "neighbourhood"], default=[None])
    args = parser.parse_args()
    likers = likes_by_film()
    with_vectors = set(Movie.objects.visible().filter(embedding__isnull=False).values_list("pk", flat=True))
    candidates = sorted(f for f, people in likers.items() if len(people) >= MIN_LIKERS and f in with_vectors)
    truth = {seed: co_liked(seed, likers) for seed in candidates}
    candidates = [seed for seed in candidates if truth[seed]]
    seeds = random.Random(3).sample(candidates, min(args.seeds, len(candidates)))
    catalog = Catalog()
    print(
        f"{Movie.objects.visible().count()} visible films; {len(likers)} liked by someone; {len(candidates)} seeds "
        f"with >= {MIN_LIKERS} likers and co-liked films; {len(seeds)} sampled.\n"
    )
    similar_quality(seeds, truth, catalog, args.methods, tuple(args.priors), tuple(args.paths))
    if not args.no_recommendations:
        recommendation_quality(likers, args.users, tuple(args.paths))


if __name__ == "__main__":
    main()
