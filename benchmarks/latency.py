"""Server-side latency of search, similar films and autocomplete on the catalog in the configured database.

Run after `make run` has loaded the demo catalog (or after importing a bigger one):

    .venv/bin/python benchmarks/latency.py [--rounds 20]

Each call goes through the same queryset verbs the views use, warm (one untimed pass first), single client,
in a process prepared the way moviesite/wsgi.py prepares a server's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

from django.test import Client  # noqa: E402

from catalog.models import Movie  # noqa: E402
from moviesite.warmup import prepare_for_requests  # noqa: E402
from recommender.similar import similar_films  # noqa: E402

QUERIES = [
    "godfather", "godfater", "a shark terrorizes a beach town", "tom hanks", "nolan", "space opera",
    "interstelar", "samurai", "heist gone wrong", "love story in paris",
]  # fmt: skip


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000
    return f"p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"


def timed(calls: list, rounds: int) -> list[float]:
    """Time every call separately, `rounds` times over, after one untimed warm-up pass."""
    for call in calls:
        call()
    samples = []
    for _ in range(rounds):
        for call in calls:
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    prepare_for_requests()
    films = Movie.objects.visible()
    seeds = list(films.filter(embedding__isnull=False).order_by("?")[:10])
    print(f"{films.count()} films; {args.rounds} rounds of {len(QUERIES)} queries / {len(seeds)} seed films")
    client = Client(HTTP_HOST="localhost")
    for mode in ("keyword", "semantic", "hybrid"):
        calls = [lambda q=q, m=mode: films.search(q, mode=m, limit=20) for q in QUERIES]
        print(f"search {mode:<10} {percentiles(timed(calls, args.rounds))}")
    calls = [lambda seed=seed: similar_films(seed, limit=40) for seed in seeds]
    print(f"similar knn       {percentiles(timed(calls, args.rounds))}")
    calls = [lambda q=q: films.autocomplete(q[:5]) for q in QUERIES]
    print(f"autocomplete      {percentiles(timed(calls, args.rounds))}")
    calls = [lambda q=q: client.get("/api/search/", {"q": q}) for q in QUERIES]
    print(f"GET /api/search/  {percentiles(timed(calls, args.rounds))}  (whole request, hybrid, 20 results)")
    calls = [lambda seed=seed: client.get(f"/api/movies/{seed.pk}/similar/") for seed in seeds]
    print(f"GET .../similar/  {percentiles(timed(calls, args.rounds))}  (whole request, 40 films with reasons)")


if __name__ == "__main__":
    main()
