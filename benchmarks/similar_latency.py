"""Latency of similar films per method, first call and kept, and of recommendations, on one database.

    .venv/bin/python benchmarks/similar_latency.py --database moviesite_similar_bench   # TMDB 5000, 4,803 films
    .venv/bin/python benchmarks/similar_latency.py --database moviesite_35k             # 34,056 films

Each call goes through the function the page and the API use (`similar_films` on a film from
`with_details()`), so it includes loading the 40 films and their reasons, in a process prepared the way
moviesite/wsgi.py prepares a server's. "first call" means no kept list
(svm and tfidf lists are deleted before each call); "kept" is the same call again. The process is warm: the
film vectors are already in memory (their cold load is timed on its own).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000
    return f"{p50:.1f} ms | {p99:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--seeds", type=int, default=50)
    args = parser.parse_args()
    os.environ["MOVIESITE_DB_NAME"] = args.database

    import django

    django.setup()
    from moviesite.warmup import prepare_for_requests

    prepare_for_requests()  # as moviesite/wsgi.py does in a server process
    from catalog.models import Movie
    from recommender import space
    from recommender.models import SimilarList
    from recommender.similar import recommend, similar_films

    films = Movie.objects.visible().filter(embedding__isnull=False)
    pks = random.Random(5).sample(list(films.values_list("pk", flat=True)), args.seeds + 1)
    seeds = list(Movie.objects.with_details().filter(pk__in=pks))
    model = seeds[0].embedding_model

    space._spaces.clear()
    started = time.perf_counter()
    loaded = space.vector_space(model)
    print(f"{films.count()} visible films with vectors; vector space cold load: "
          f"{(time.perf_counter() - started) * 1000:.0f} ms for {len(loaded.ids)} vectors\n")  # fmt: skip

    print("| call | p50 | p99 |")
    print("| --- | --- | --- |")
    warm_up = seeds.pop()
    for method in ("knn", "svm", "tfidf"):
        similar_films(warm_up, method=method)
        first, kept = [], []
        for seed in seeds:
            SimilarList.objects.filter(movie=seed).delete()
            started = time.perf_counter()
            similar_films(seed, method=method)
            first.append(time.perf_counter() - started)
            started = time.perf_counter()
            similar_films(seed, method=method)
            kept.append(time.perf_counter() - started)
        if method == "knn":
            print(f"| knn (no list is kept; every call is a first call) | {percentiles(first)} |")
        else:
            print(f"| {method}, first call | {percentiles(first)} |")
            print(f"| {method}, kept | {percentiles(kept)} |", flush=True)
    for method in ("svm", "centroid"):
        samples = []
        for start in range(0, len(seeds) - 5, 5):
            liked = [seed.pk for seed in seeds[start : start + 5]]
            started = time.perf_counter()
            recommend(liked=liked, method=method)
            samples.append(time.perf_counter() - started)
        print(f"| recommendations from 5 liked films, {method} | {percentiles(samples)} |", flush=True)


if __name__ == "__main__":
    main()
