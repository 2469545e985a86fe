"""What `catalog.search.bm25_rescore` adds to a search, in-process, on a search_quality catalog.

    MOVIESITE_DB_NAME=search_bench_tmdb .venv/bin/python benchmarks/bm25_cost.py [--queries 80]

For the dev queries of four of search_quality's sources: the re-scoring alone (wall p50 and p90, and its
in-process CPU), its main statement's server execution time (EXPLAIN ANALYZE), and hybrid `search()` with and
without it, the two interleaved in a random order per query so both sides see the same load. Query vectors
come from search_quality's cache (run it first), so the encoder's time is not in the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search_quality as sq

SOURCES = ("imdb-description", "tmdb-tagline", "typo", "partial")


def ms(values: list[float], q: float = 0.5) -> str:
    return f"{sorted(values)[int(q * (len(values) - 1))] * 1000:.1f}"


def server_time(query: str, ranking: list[tuple[int, float]]) -> float:
    """The server's execution time of bm25_rescore's statement over `ranking`'s films, in ms."""
    from django.db import connection

    from catalog import search

    words, _ = search.weighted_words(query)
    lengths = ", ".join(f"length(ts_filter(m.search_vector, '{{{w.lower()}}}'))" for w in search.BM25_FIELD_WEIGHTS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""EXPLAIN (ANALYZE, FORMAT JSON)
                WITH q AS (SELECT phraseto_tsquery(%s::regconfig, %s) AS phrase)
                SELECT m.id, numnode(q.phrase) >= 3 AND m.search_vector @@ q.phrase, {lengths},
                       ARRAY(SELECT u.lexeme || ' ' || array_to_string(u.weights, '')
                             FROM unnest(m.search_vector) AS u WHERE u.lexeme = ANY(%s))
                FROM catalog_movie AS m, q WHERE m.id = ANY(%s)""",
            [search.SEARCH_CONFIG, query, words, [pk for pk, _ in ranking]],
        )
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Execution Time"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=80, help="dev queries per source")
    parser.add_argument("--query-encoder", default="onnx")
    args = parser.parse_args()
    sq.django_setup()
    from catalog import search
    from catalog.models import Movie

    sets = sq.query_sets(600)
    sq.use_query_encoder(sorted({query for cases in sets.values() for query, _, _ in cases}), args.query_encoder)
    films = Movie.objects.visible()
    rescore, keep = search.bm25_rescore, lambda films, ranking, query, **_: list(ranking)
    rng = random.Random(7)
    print(f"{films.count()} films; dev queries, {args.query_encoder} query vectors from the cache\n")
    print("| source | bm25_rescore wall p50 (p90) | its CPU p50 | its statement on the server p50 |", end="")
    print(" hybrid search() p50 with / without |")
    print("| --- | --- | --- | --- | --- |")
    for name in SOURCES:
        queries = [" ".join(q.split()) for q, _, split in sets[name] if split == "dev"][: args.queries]
        wall, cpu, server, with_it, without = [], [], [], [], []
        for query in queries:
            ranking = search.keyword_scores(films, query, limit=sq.POOL)
            started, cpu_started = time.perf_counter(), time.process_time()
            rescore(films, ranking, query)
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            if ranking:
                server.append(server_time(query, ranking) / 1000)
            sides = [True, False]
            rng.shuffle(sides)
            for on in sides:
                search.bm25_rescore = rescore if on else keep
                started = time.perf_counter()
                search.search(films, query, mode="hybrid", limit=10)
                (with_it if on else without).append(time.perf_counter() - started)
            search.bm25_rescore = rescore
        print(
            f"| {name} ({len(queries)}) | {ms(wall)} ms ({ms(wall, 0.9)}) | {ms(cpu)} ms | "
            f"{ms(server) if server else '-'} ms | {ms(with_it)} / {ms(without)} ms |",
            flush=True,
        )


if __name__ == "__main__":
    main()
