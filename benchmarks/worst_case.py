"""Worst-case cost of each anonymous endpoint (issue 17): the costliest request each limit allows, timed.

Run on the catalog in the configured database (after `make run`, or an import of a bigger catalog):

    .venv/bin/python benchmarks/worst_case.py [--rounds 3] [--svm-rows 8000]

Every request goes through the whole middleware stack (statement timeout included) with the Django test
client, throttles off; the figure is the slowest of `rounds` runs after one warm-up. The SVM part fits
LinearSVC on random unit vectors the size of the largest full fit (FULL_FIT_MAX films, 384 dimensions) for
each C, to show what the C range allows at scale.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")

import django

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework.throttling import AnonRateThrottle  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from catalog.models import Genre, Movie  # noqa: E402
from moviesite.warmup import prepare_for_requests  # noqa: E402
from recommender.similar import FULL_FIT_MAX  # noqa: E402

LONG_QUERY = ("a lonely detective hunts a killer through a rainy city while his past catches up " * 5)[:300]


def slowest(call, rounds: int) -> tuple[float, int]:
    status = call().status_code
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        status = call().status_code
        times.append(time.perf_counter() - started)
    return max(times), status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--svm-rows", type=int, default=FULL_FIT_MAX)
    args = parser.parse_args()

    logging.getLogger("django.request").setLevel(logging.ERROR)  # the refusals are the point, not news
    settings.SITE_THROTTLE_RATES = {}
    AnonRateThrottle.THROTTLE_RATES = {"anon": None}
    prepare_for_requests()
    client = Client(HTTP_HOST="localhost")
    films = Movie.objects.visible().count()
    genres = list(Genre.objects.filter(movies__hidden=False).distinct().values_list("slug", flat=True)[:10])
    ids = list(Movie.objects.visible().filter(embedding__isnull=False).values_list("pk", flat=True)[:200])
    seed = ids[0]
    filters = {"genre": genres, "director": "a", "actor": "e"}
    cases = [
        ("GET / (site search)", "q 300 chars, hybrid, 10 genres, person, page 40",
         lambda: client.get("/", {"q": LONG_QUERY, "genre": genres, "person": "a", "page": 40})),
        ("GET /api/search/", "q 300, hybrid, limit 100, offset 1000, 10 genres, director, actor",
         lambda: client.get("/api/search/", {"q": LONG_QUERY, "limit": 100, "offset": 1000, **filters})),
        ("GET /api/movies/", "10 genres, director, actor, ordering rating",
         lambda: client.get("/api/movies/", {**filters, "ordering": "rating"})),
        ("GET /api/autocomplete/", "q 300 chars, limit 20",
         lambda: client.get("/api/autocomplete/", {"q": LONG_QUERY, "limit": 20})),
        ("GET /api/people/", "q 300 chars",
         lambda: client.get("/api/people/", {"q": LONG_QUERY})),
        ("GET /api/people/", "no q (everyone, first page)", lambda: client.get("/api/people/")),
        ("GET /api/genres/", "(no parameters)", lambda: client.get("/api/genres/")),
        ("GET /api/movies/{id}/similar/", "svm, C 10, prior 0, limit 100 (not cached)",
         lambda: client.get(f"/api/movies/{seed}/similar/", {"method": "svm", "C": 10, "prior": 0, "limit": 100})),
        ("GET /api/movies/{id}/similar/", "svm, C 0.01, prior 1, limit 100 (not cached)",
         lambda: client.get(f"/api/movies/{seed}/similar/", {"method": "svm", "C": 0.01, "prior": 1, "limit": 100})),
        ("GET /movies/{id}/", "method svm (cached list)", lambda: client.get(f"/movies/{seed}/", {"method": "svm"})),
        ("POST /api/recommendations/", "100 liked, 100 disliked, svm, limit 100",
         lambda: client.post("/api/recommendations/", json.dumps(
             {"liked": ids[:100], "disliked": ids[100:200], "limit": 100}), content_type="application/json")),
        ("POST /api/recommendations/", "refused: 333,000 liked ids (1 MB)",
         lambda: client.post("/api/recommendations/", json.dumps({"liked": [1] * 333_000}),
                             content_type="application/json")),
        ("POST /api/recommendations/", "refused: 1,000 nested lists",
         lambda: client.post("/api/recommendations/", '{"liked": ' + "[" * 1000 + "]" * 1000 + "}",
                             content_type="application/json")),
        ("POST /api/recommendations/", "refused: 3 MB body",
         lambda: client.post("/api/recommendations/", '{"liked": [' + ",".join(["1"] * 1_500_000) + "]}",
                             content_type="application/json")),
        ("GET / (site search)", "refused: 20 genres",
         lambda: client.get("/", {"genre": [*genres, *[f"g{n}" for n in range(10)]]})),
    ]  # fmt: skip
    print(f"{films} visible films; slowest of {args.rounds} warm runs; statement timeout "
          f"{settings.REQUEST_STATEMENT_TIMEOUT_MS} ms\n")  # fmt: skip
    print("| endpoint | worst case allowed by the limits | status | slowest |\n|---|---|---|---|")
    for name, request, call in cases:
        seconds, status = slowest(call, args.rounds)
        print(f"| `{name}` | {request} | {status} | {seconds * 1000:.0f} ms |")

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(args.svm_rows, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.zeros(args.svm_rows)
    labels[0] = 1
    print(f"\nLinearSVC fit (one positive, {args.svm_rows} rows x 384, the settings of recommender.similar):\n")
    print("| C | fit |\n|---|---|")
    for C in (0.01, 0.1, 1.0, 10.0, 100.0):
        started = time.perf_counter()
        LinearSVC(class_weight="balanced", C=C, max_iter=10000, tol=1e-6, dual="auto").fit(vectors, labels)
        print(f"| {C:g}{' (refused now)' if C > 10 else ''} | {time.perf_counter() - started:.2f} s |")


if __name__ == "__main__":
    main()
