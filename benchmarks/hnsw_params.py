"""HNSW storage and parameters side by side on a subset of the million films' vectors (issue 16).

    .venv/bin/python benchmarks/hnsw_params.py --films 250000 [--configs vector:16:64 halfvec:16:64 ...]

Needs `benchmarks/make_1m.py generate` (the vectors file). Each configuration (storage:m:ef_construction) is
built in turn on one scratch table of the first `--films` vectors (database `hnsw_params`, on the same server
as make_1m's), then timed and checked on the same seeds: build time, index size, and for each ef_search the
recall@40 against exact cosine (numpy over the same vectors) and the p50 / p99 of the index scan. Seeds are
films of the table; each looks for its 40 nearest others, as similar films do. Runs interleave nothing
(one index at a time), so a busy machine slows every configuration of one run alike only roughly: compare
the figures of one run, and read them as noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.make_1m import VECTORS_PATH, _setup, copy_vectors, log

os.environ["MOVIESITE_DB_NAME"] = "hnsw_params"
K = 40


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--films", type=int, default=250_000)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--configs", nargs="+", default=["vector:16:64", "halfvec:16:64"])
    parser.add_argument("--ef-search", nargs="+", type=int, default=[40, 100, 200, 500])
    parser.add_argument("--maintenance-work-mem", default="2GB")
    parser.add_argument("--workers", type=int, default=2, help="max_parallel_maintenance_workers for the builds")
    args = parser.parse_args()
    from moviesite.embedded_db import ensure_database

    connection = _setup()
    ensure_database(connection.settings_dict["PGDATA"], "hnsw_params")
    connection.ensure_connection()
    connection.connection.autocommit = True
    vectors = np.ascontiguousarray(np.load(VECTORS_PATH, mmap_mode="r")[: args.films])
    ids = np.arange(1, len(vectors) + 1)
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cursor.execute("DROP TABLE IF EXISTS films")
        cursor.execute("CREATE TABLE films (id bigint PRIMARY KEY, embedding vector(384))")
        copy_vectors(cursor, "films", ids, vectors)
        cursor.execute("VACUUM ANALYZE films")
        cursor.execute("SELECT pg_size_pretty(pg_table_size('films'))")
        log(f"{len(vectors)} vectors loaded, table {cursor.fetchone()[0]}")

    rng = np.random.default_rng(7)
    seeds = rng.choice(len(vectors), args.seeds, replace=False)
    scores = vectors[seeds] @ vectors.T
    scores[np.arange(len(seeds)), seeds] = -2  # a film is not its own neighbour
    exact = [set((ids[np.argpartition(-row, K)[:K]]).tolist()) for row in scores]

    print(f"\n{len(vectors)} films, {len(seeds)} seeds, recall@{K} against exact cosine (numpy)\n")
    print("| storage | m | ef_construction | build | index size | ef_search | recall@40 | p50 | p99 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for config in args.configs:
        storage, m, ef_construction = config.split(":")
        halfvec = storage == "halfvec"
        column = "(embedding::halfvec(384)) halfvec_cosine_ops" if halfvec else "embedding vector_cosine_ops"
        order = "embedding::halfvec(384) <=> %s::halfvec(384)" if halfvec else "embedding <=> %s::vector(384)"
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS films_hnsw")
            cursor.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
            cursor.execute(f"SET max_parallel_maintenance_workers = {args.workers}")
            started = time.perf_counter()
            cursor.execute(
                f"CREATE INDEX films_hnsw ON films USING hnsw ({column})"
                f" WITH (m = {m}, ef_construction = {ef_construction})"
            )
            build = time.perf_counter() - started
            cursor.execute("SELECT pg_size_pretty(pg_relation_size('films_hnsw'))")
            size = cursor.fetchone()[0]
            log(f"{config}: built in {build:.0f} s, {size}")
            for ef_search in args.ef_search:
                cursor.execute(f"SET hnsw.ef_search = {ef_search}")
                found, timings = [], []
                for _ in range(2):  # the first pass warms the index's pages; the second is timed
                    found, timings = [], []
                    for seed in seeds:
                        literal = "[" + ",".join(f"{x:.7g}" for x in vectors[seed]) + "]"
                        started = time.perf_counter()
                        cursor.execute(f"SELECT id FROM films WHERE id <> %s ORDER BY {order} LIMIT {K}",
                                       [int(ids[seed]), literal])  # fmt: skip
                        rows = cursor.fetchall()
                        timings.append(time.perf_counter() - started)
                        found.append({row[0] for row in rows})
                recall = statistics.mean(len(f & e) / K for f, e in zip(found, exact, strict=True))
                timings.sort()
                p50, p99 = statistics.median(timings) * 1000, timings[round(0.99 * (len(timings) - 1))] * 1000
                print(f"| {storage} | {m} | {ef_construction} | {build:.0f} s | {size} | {ef_search} | {recall:.3f} "
                      f"| {p50:.1f} ms | {p99:.1f} ms |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
