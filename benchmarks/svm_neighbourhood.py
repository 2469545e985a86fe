"""svm, recommendations and personal lists from the whole matrix against from a neighbourhood (issue 16).

    .venv/bin/python benchmarks/svm_neighbourhood.py --database moviesite_similar_bench   # TMDB 5000
    .venv/bin/python benchmarks/svm_neighbourhood.py --database moviesite_35k             # benchmarks/make_35k.py

Each way runs in a process of its own (so its memory is its own), prepared as moviesite/wsgi.py prepares a
server's, the two ways alternating for `--rounds` rounds in this one run:
- whole: every film's vector in one matrix per process (recommender.space.vector_space), as before;
- neighbourhood: per request, the films the HNSW index finds nearest the positives plus a random sample
  (recommender.space.neighbourhood).
Timed, through the functions the page and the API call: a film's svm list with no list kept (first call), the
recommendations from 5 liked films (svm), and a personal list from 10 liked and 3 disliked films
(recommender.personal, co-liked lists aside). Memory: the process's resident set after the calls, its peak,
and the vectors one request holds (the matrix, or the neighbourhood). Agreement: how many of the whole
matrix's 40 films the neighbourhood's list shares, seed by seed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "0")
K = 40
DIMENSIONS = 384


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] * 1000


def child(way: str, seeds_count: int) -> dict:
    import django

    django.setup()
    import numpy as np
    import psutil

    from moviesite.warmup import prepare_for_requests

    prepare_for_requests()
    from catalog.models import Movie
    from recommender import personal, space
    from recommender.models import SimilarList
    from recommender.similar import recommend, similar_films

    space.WHOLE_MATRIX_MAX = 10**12 if way == "whole" else -1
    process = psutil.Process()
    rss_start = process.memory_info().rss
    films = Movie.objects.visible().filter(embedding__isnull=False)
    pks = random.Random(5).sample(list(films.values_list("pk", flat=True)), seeds_count + 1)
    seeds = list(Movie.objects.with_details().filter(pk__in=pks).order_by("pk"))
    warm_up = seeds.pop()
    started = time.perf_counter()
    similar_films(warm_up, method="svm", C=0.1000001)  # the whole matrix loads here, once per catalog version
    warm = time.perf_counter() - started

    svm, svm_lists = [], {}
    for seed in seeds:
        SimilarList.objects.filter(movie=seed).delete()
        started = time.perf_counter()
        svm_lists[seed.pk] = [m.pk for m in similar_films(seed, method="svm", limit=K)]
        svm.append(time.perf_counter() - started)
    recommendations, recommendation_lists = [], {}
    for start in range(0, len(seeds) - 5, 5):
        liked = [seed.pk for seed in seeds[start : start + 5]]
        started = time.perf_counter()
        recommendation_lists[start] = [m.pk for m in recommend(liked=liked, limit=K)]
        recommendations.append(time.perf_counter() - started)
    rng = random.Random(9)
    personal_times, personal_lists = [], {}
    for start in range(0, len(seeds) - 13, 13):
        group = [seed.pk for seed in seeds[start : start + 13]]
        taste = personal.Taste(
            liked={pk: rng.choice([1.0, 1.5, 2.0, 2.5]) for pk in group[:10]},
            disliked={pk: rng.choice([0.5, 1.5]) for pk in group[10:]},
            rated=frozenset(group),
        )
        started = time.perf_counter()
        personal_lists[start] = [m.pk for m in personal._recommend(taste, limit=K)]
        personal_times.append(time.perf_counter() - started)

    if way == "whole":
        held = space.vector_space(warm_up.embedding_model).vectors.nbytes
    else:
        hood = space.neighbourhood(
            warm_up.embedding_model, [np.asarray(warm_up.embedding)], include=[warm_up.pk], seed=warm_up.pk
        )
        held = hood.vectors.nbytes
    return {
        "way": way,
        "films": films.count(),
        "warm_ms": warm * 1000,
        "svm": svm,
        "recommend": recommendations,
        "personal": personal_times,
        "rss_mb": process.memory_info().rss / 2**20,
        "rss_start_mb": rss_start / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "vectors_mb": held / 2**20,
        "lists": {"svm": svm_lists, "recommend": recommendation_lists, "personal": personal_lists},
    }


def agreement(first: dict, second: dict) -> float:
    shares = [len(set(first[key]) & set(second[key])) / max(len(first[key]), 1) for key in first if first[key]]
    return statistics.mean(shares) if shares else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=["whole", "neighbourhood"])
    args = parser.parse_args()
    os.environ["MOVIESITE_DB_NAME"] = args.database
    if args.child:
        print(json.dumps(child(args.child, args.seeds)))
        return
    print(f"load before: {os.getloadavg()}")
    runs: dict[str, list[dict]] = {"whole": [], "neighbourhood": []}
    for _ in range(args.rounds):
        for way in ("whole", "neighbourhood"):
            command = [
                sys.executable,
                __file__,
                "--database",
                args.database,
                "--seeds",
                str(args.seeds),
                "--child",
                way,
            ]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs[way].append(json.loads(output.strip().splitlines()[-1]))
    print(f"load after: {os.getloadavg()}")
    films = runs["whole"][0]["films"]
    print(f"\n{films} films, {args.seeds} seeds, {args.rounds} rounds alternating (p50 / p99 over all rounds)\n")
    print("| fitted on | svm first call | recommendations (5 liked) | personal (10 liked, 3 disliked) | "
          "first call in a process | vectors held | RSS after / peak |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for way, results in runs.items():
        cells = []
        for kind in ("svm", "recommend", "personal"):
            samples = [value for result in results for value in result[kind]]
            cells.append(f"{percentile(samples, 0.5):.0f} / {percentile(samples, 0.99):.0f} ms")
        warm = statistics.median(result["warm_ms"] for result in results)
        rss = statistics.median(result["rss_mb"] for result in results)
        peak = statistics.median(result["peak_rss_mb"] for result in results)
        held = results[0]["vectors_mb"]
        print(f"| {way} | {' | '.join(cells)} | {warm:.0f} ms | {held:.1f} MB | {rss:.0f} / {peak:.0f} MB |")
    whole, hood = runs["whole"][0]["lists"], runs["neighbourhood"][0]["lists"]
    print("\nShare of the whole matrix's 40 films in the neighbourhood's list: " + ", ".join(
        f"{kind} {agreement(whole[kind], hood[kind]):.0%}" for kind in ("svm", "recommend", "personal")
    ))  # fmt: skip
    per_film = DIMENSIONS * 4
    print(
        f"At 1M films: the whole matrix is {10**6 * per_film / 2**20:.0f} MB per process; a neighbourhood holds "
        f"{runs['neighbourhood'][0]['vectors_mb']:.1f} MB here and at most (NEAR + NEAR_EACH x NEAR_PROBES + SAMPLE"
        " + the rated films) vectors at any size."
    )


if __name__ == "__main__":
    main()
