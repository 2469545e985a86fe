"""The figures of issue 16's goal at a million films, on the catalog `benchmarks/make_1m.py` builds.

    .venv/bin/python benchmarks/million.py [--seeds 100] [--rounds 3]
    .venv/bin/python benchmarks/million.py --knn [--seeds 100] [--before ../main]   # knn similar films alone
    .venv/bin/python benchmarks/million.py --signals [--before ../main]   # each signal's cost, query by query

Through the product's own functions, in a process prepared as moviesite/wsgi.py prepares a server's:
- knn similar films: `similar_films(seed, method="knn")`, first call (the seed's kept list deleted before);
- recall@40 of the index scan knn draws its pool from (`Movie.objects.nearest`, which sets hnsw.ef_search to
  the pool's size) against exact cosine over every film (numpy over the generated vectors file), for the
  pool size knn uses (500) and smaller ones (what a smaller hnsw.ef_search would give);
- keyword, hybrid and semantic search: `Movie.objects.visible().search(query, mode=..., limit=20)` over distinct
  queries, each warm (one untimed pass first: hybrid's query vectors come from the real encoder and are
  then cached, so the timed pass is the search's own cost; the first pass's encoding is reported apart);
- the database's size and its largest relations, and the memory of the database server (RSS and PSS of its
  processes) and of this process after the warm-up.
The machine is shared with other agents: every figure is noisy, and is printed with the load average.

`--knn` measures knn similar films alone and changes nothing (each call runs in a transaction rolled back:
a list kept by an earlier run is deleted, the list computed and kept, then all of it undone): the first call
on seeds whose candidates no query has read yet (their rows on disk or in the OS cache), then recall@40 of
the index scan at each pool size, then the first call again (rows now in shared buffers), each p50 / p99.
With `--before CHECKOUT`, that checkout's recommender/similar.py (e.g. the main branch's) is timed on the
same seeds in the same run, seed by seed, which one goes first rotating; `--pool N` adds this
checkout's code with knn's pool set to N (this checkout's own pool shrinks with the catalog's size,
`similar.knn_pool_size`: 200 at a million films).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.make_1m import VECTORS_PATH, _setup, log
from benchmarks.request_cost import backend_cpu, module_from

K = 40

QUERIES = [
    # described plots
    "a shark terrorizes a beach town", "heist gone wrong", "love story in paris", "a robot falls in love",
    "astronauts stranded on mars", "a boxer gets one last chance", "haunted house with a family",
    "a detective hunts a serial killer", "time travel to save the future", "a dog finds its way home",
    "soldiers behind enemy lines", "a high school girl becomes popular", "pirates searching for treasure",
    "a small town hides a dark secret", "two friends on a road trip", "an assassin wants out",
    "aliens invade earth", "a musician struggles with fame", "a family survives a natural disaster",
    "a con man falls for his mark", "superhero origin story", "zombies overrun the city",
    # titles, typo'd titles, people, topics
    "godfather", "godfater", "interstelar", "the dark knight", "avatar", "titanic", "samurai",
    "space opera", "tom hanks", "nolan", "christopher nolan", "meryl streep", "western", "vampire",
]  # fmt: skip


def nearest_exactly(vectors: np.ndarray, pks: np.ndarray, rows: np.ndarray) -> list[set[int]]:
    """The K films nearest each of `rows` (rows of the vectors file) by exact cosine over every vector, as film
    ids (`pks`, -1 for a row that is no film: never a neighbour), each row excluding itself; 20 seeds and
    200,000 vectors at a time, so a memory-mapped file stays on disk."""
    missing = pks < 0
    exact = []
    for start in range(0, len(rows), 20):
        chunk = rows[start : start + 20]
        scores = np.zeros((len(chunk), len(vectors)), dtype=np.float32)
        for begin in range(0, len(vectors), 200_000):
            scores[:, begin : begin + 200_000] = (
                np.asarray(vectors[chunk]) @ np.asarray(vectors[begin : begin + 200_000]).T
            )
        scores[np.arange(len(chunk)), chunk] = -2
        scores[:, missing] = -2
        exact.extend(set(pks[np.argpartition(-row, K)[:K]].tolist()) for row in scores)
    return exact


def in_turn(sides: dict, n: int) -> list[str]:
    """The sides' names for the n-th query or seed, who goes first rotating: the later ones may find pages the
    first one read, so each goes first as often."""
    names = list(sides)
    return names[n % len(names) :] + names[: n % len(names)]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[round(0.99 * (len(ordered) - 1))] * 1000


def memory_of_server(pgdata: str) -> tuple[float, float]:
    """(RSS, PSS) in MB summed over the postmaster of `pgdata` and its children. RSS counts the shared
    buffers once per process that touched them; PSS shares them out, so it is the truer total."""
    import psutil

    pid = int((Path(pgdata) / "postmaster.pid").read_text().split()[0])
    processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    rss = sum(process.memory_info().rss for process in processes)
    pss = sum(process.memory_full_info().pss for process in processes)
    return rss / 2**20, pss / 2**20


def server_rss() -> None:
    """The memory of a process that does what a server worker does (prepared, encoder loaded, a few hybrid
    searches and knn lists), without this benchmark's own 1M-entry maps and memory-mapped vectors."""
    _setup()
    from moviesite.warmup import prepare_for_requests

    prepare_for_requests()
    import psutil

    from catalog.models import Movie
    from recommender.encoders import get_encoder
    from recommender.similar import similar_films

    get_encoder().load()
    for query in QUERIES[:10]:
        Movie.objects.visible().search(query, mode="hybrid", limit=20)
    for seed in Movie.objects.with_details().filter(pk__in=range(1000, 1010)):
        similar_films(seed, method="knn")
    memory = psutil.Process().memory_full_info()
    print(f"server-like process after warm-up (prepare_for_requests, encoder loaded, 10 hybrid searches, 10 knn"
          f" lists): RSS {memory.rss / 2**20:.0f} MB, USS {memory.uss / 2**20:.0f} MB", flush=True)  # fmt: skip


def exact_neighbours(seeds: int) -> tuple[list[int], list[set[int]]]:
    """`seeds` random films (ids) and the ids of each one's K nearest other films by exact float32 cosine over
    the generated vectors file (numpy), for recall."""
    from benchmarks.make_1m import REAL_VECTORS, SYNTHETIC_TMDB_IDS, _real_order
    from catalog.models import Movie

    # Row i of the vectors file is the film whose tmdb_id make_1m gave it.
    ids_by_tmdb = dict(Movie.objects.values_list("tmdb_id", "pk"))
    vectors = np.load(VECTORS_PATH, mmap_mode="r")
    real = _real_order(np.load(REAL_VECTORS)["tmdb_id"])
    tmdb_ids = np.concatenate([real, SYNTHETIC_TMDB_IDS + np.arange(len(real), len(vectors))])
    # A row the importer merged into another film (two real films of one title and year) or skipped is no film.
    pks = np.array([ids_by_tmdb.get(int(tmdb_id), -1) for tmdb_id in tmdb_ids])
    missing = pks < 0
    rows = np.array(random.Random(5).sample(np.flatnonzero(~missing).tolist(), seeds))
    exact = nearest_exactly(vectors, pks, rows)
    return [int(pk) for pk in pks[rows]], exact


def knn_only(seeds: int, before: str | None, pool: int | None) -> None:
    """knn similar films at 1M: first calls (cold, then warm) and the index scan's recall, writing nothing."""
    _setup()
    from django.db import transaction

    from moviesite.warmup import prepare_for_requests

    prepare_for_requests()
    from catalog.models import Movie
    from recommender import similar
    from recommender.models import SimilarList
    from recommender.similar import KNN_POOL

    def with_pool(size: int):
        def call(seed, **options):
            kept, similar.knn_pool_size = similar.knn_pool_size, lambda films=None: size
            try:
                return similar.similar_films(seed, **options)
            finally:
                similar.knn_pool_size = kept

        return call

    sides = {"this": similar.similar_films}
    if before:
        sides["before"] = module_from(before, "recommender/similar.py", "similar_before").similar_films
    if pool:
        sides[f"this, pool {pool}"] = with_pool(pool)
    log(f"load average {os.getloadavg()}; knn's pool at this catalog's size: {similar.knn_pool_size()}")
    pks, exact = exact_neighbours(seeds + 1)
    log("exact neighbours computed")
    films = Movie.objects.with_details().in_bulk(pks)
    ordered = [films[pk] for pk in pks]

    def first_calls(label: str) -> None:
        timings: dict[str, list[float]] = {name: [] for name in sides}
        for n, seed in enumerate(ordered[1:]):
            for name in in_turn(sides, n):
                with transaction.atomic():
                    # A list kept by an earlier run is dropped for this call alone (rolled back with it).
                    SimilarList.objects.filter(movie=seed, method="knn").delete()
                    started = time.perf_counter()
                    sides[name](seed, method="knn")
                    timings[name].append(time.perf_counter() - started)
                    transaction.set_rollback(True)  # the kept list is written, then undone: nothing changes
        for name, samples in timings.items():
            p50, p99 = percentiles(samples)
            print(f"| knn `similar_films`, first call, {label} | {name} | {p50:.1f} ms | {p99:.1f} ms |", flush=True)

    with transaction.atomic():  # the process's first call (connection, caches), not timed
        similar.similar_films(ordered[0], method="knn")
        transaction.set_rollback(True)
    print("\n| figure | code | p50 | p99 |\n| --- | --- | --- | --- |")
    first_calls("seeds' candidates not read before")
    base = Movie.objects.all().visible()
    print("\n| index scan (Movie.objects.nearest, with the candidates' genres) | recall@40 | p50 | p99 |")
    print("| --- | --- | --- | --- |")
    for pool in (40, 100, 200, KNN_POOL):
        found, timings = [], []
        for seed, truth in zip(ordered[1:], exact[1:], strict=True):
            started = time.perf_counter()
            rows = (
                base.exclude(pk=seed.pk)
                .with_genre_ids()
                .nearest(seed.embedding, model=seed.embedding_model, limit=pool, fields=similar.CANDIDATE_FIELDS)
            )
            timings.append(time.perf_counter() - started)
            found.append(len({row[0] for row in rows[:K]} & truth) / K)
        p50, p99 = percentiles(timings)
        print(f"| limit {pool} (hnsw.ef_search {max(pool, 200)}) | {statistics.mean(found):.3f} "
              f"| {p50:.1f} ms | {p99:.1f} ms |", flush=True)  # fmt: skip
    print("\n| figure | code | p50 | p99 |\n| --- | --- | --- | --- |")
    first_calls("again (candidates' rows now in shared buffers)")
    log(f"load average {os.getloadavg()}")


def search_sides(before: str | None) -> dict:
    """`catalog.search.search` of this checkout, and with `before`, that checkout's catalog/search.py beside it
    (loaded as its own module, so its signals and constants are its own)."""
    from catalog import search

    sides = {"this": search.search}
    if before:
        sides["before"] = module_from(before, "catalog/search.py", "search_before").search
    return sides


def time_search(rounds: int, before: str | None = None) -> None:
    """Keyword, hybrid and semantic search over QUERIES: a first pass (hybrid: the query encoded), then `rounds`
    warm ones (semantic mode walks both vector indexes, see catalog.search.semantic_scores).
    With `before`, that checkout's search beside this one's, query by query, who goes first rotating; each
    side's wall p50 / p99 and its database backend's CPU per search (summed, then divided: 10 ms ticks)."""
    from catalog.models import Movie
    from recommender.encoders import get_encoder

    films_qs = Movie.objects.visible()
    encoder = get_encoder()
    started = time.perf_counter()
    encoder.load()
    log(f"encoder {encoder.name} loaded in {time.perf_counter() - started:.1f} s")
    sides = search_sides(before)
    cpu = backend_cpu()
    for mode in ("keyword", "hybrid", "semantic"):
        cold: dict[str, list[float]] = {name: [] for name in sides}
        warm: dict[str, list[float]] = {name: [] for name in sides}
        used = dict.fromkeys(sides, 0.0)
        found: dict[str, list[list[int]]] = {name: [] for name in sides}
        for n, query in enumerate(QUERIES):
            for name in in_turn(sides, n):
                started = time.perf_counter()
                page = sides[name](films_qs, query, mode=mode, limit=20)
                cold[name].append(time.perf_counter() - started)
                found[name].append([movie.pk for movie in page.results])
        for _ in range(rounds):
            for n, query in enumerate(QUERIES):
                for name in in_turn(sides, n):
                    started_cpu, started = cpu(), time.perf_counter()
                    sides[name](films_qs, query, mode=mode, limit=20)
                    warm[name].append(time.perf_counter() - started)
                    used[name] += cpu() - started_cpu
        for name in sides:
            p50, p99 = percentiles(warm[name])
            c50, c99 = percentiles(cold[name])
            print(f"search {mode} ({name}), {len(QUERIES)} distinct queries x {rounds}: warm p50 {p50:.1f} ms,"
                  f" p99 {p99:.1f} ms, database CPU {1000 * used[name] / len(warm[name]):.1f} ms/search;"
                  f" first pass (hybrid: query encoded) p50 {c50:.1f} ms, p99 {c99:.1f} ms", flush=True)  # fmt: skip
        if before:
            pairs = list(zip(found["this"], found["before"], strict=True))
            same = sum(this == other for this, other in pairs)
            overlap = statistics.mean(len(set(this) & set(other)) / max(len(other), 1) for this, other in pairs)
            firsts = sum(this[:1] == other[:1] for this, other in pairs)
            print(f"search {mode}: the 20 results identical for {same} of {len(pairs)} queries, the same first for"
                  f" {firsts}; mean share of before's 20 still in this one's {overlap:.3f}", flush=True)  # fmt: skip


def signal_costs(rounds: int, before: str | None = None) -> None:
    """Where a keyword search's time goes, query by query: the keyword signal (`keyword_scores`), its BM25F
    re-scoring, the title signal and the whole keyword search, each called once untimed and then `rounds`
    times; the median wall time and the database backend's mean CPU per call (10 ms ticks, so noisy alone).
    With `before`, that checkout's title signal and keyword search in two more columns, each timed right after
    this one's."""
    from catalog import search
    from catalog.models import Movie

    films_qs = Movie.objects.visible()
    cpu = backend_cpu()
    old = module_from(before, "catalog/search.py", "search_before") if before else None
    extra = " | title signal (before) | keyword search (before)" if old else ""
    columns = 5 + 2 * bool(old)
    print(f"\n| query | keyword signal | BM25F | title signal | keyword search{extra} |\n|" + " --- |" * columns)
    totals: dict[str, list[float]] = {}
    for query in QUERIES:
        ranking = search.keyword_scores(films_qs, query, limit=100)
        parts = {
            "keyword": lambda q: search.keyword_scores(films_qs, q, limit=100),
            "bm25": lambda q, ranking=ranking: search.bm25_rescore(films_qs, ranking, q),
            "title": lambda q: search.title_scores(films_qs, q, limit=100),
            "search": lambda q: search.search(films_qs, q, mode="keyword", limit=20),
        }
        if old:
            parts["title_before"] = lambda q: old.title_scores(films_qs, q, limit=100)
            parts["search_before"] = lambda q: old.search(films_qs, q, mode="keyword", limit=20)
        cells = []
        for name, part in parts.items():
            part(query)
            walls, used = [], 0.0
            for _ in range(rounds):
                started_cpu, started = cpu(), time.perf_counter()
                part(query)
                walls.append(time.perf_counter() - started)
                used += cpu() - started_cpu
            totals.setdefault(name, []).append(statistics.median(walls))
            cells.append(f"{1000 * statistics.median(walls):.1f} / {1000 * used / rounds:.0f}")
        print(f"| {query} | " + " | ".join(cells) + " |", flush=True)
    print(
        "| p50 over the queries | " + " | ".join(f"{1000 * statistics.median(v):.1f}" for v in totals.values()) + " |"
    )


def typo_check(sample: int, before: str | None = None, edits: int = 1) -> None:
    """Known-item search among the million: `sample` of the real TMDB films whose title no other film shares,
    each title with `edits` typos (benchmarks/search_quality.py's `typo`, seeded, applied `edits` times),
    searched by keyword and hybrid; hit@1 and MRR@10 of the film, for titles of 1-3 words and of 4 or more
    apart (above 50,000 films a long query walks the title index at a higher threshold). Read-only."""
    from collections import Counter

    from benchmarks.make_1m import SYNTHETIC_TMDB_IDS
    from benchmarks.search_quality import typo
    from catalog.models import Movie, normalise_title

    films_qs = Movie.objects.visible()
    titles = Counter(normalise_title(title) for title in Movie.objects.values_list("title", flat=True).iterator())
    real = list(
        Movie.objects.filter(tmdb_id__lt=SYNTHETIC_TMDB_IDS, hidden=False).order_by("pk").values_list("pk", "title")
    )
    rng = random.Random(1970)
    rng.shuffle(real)
    cases = []
    for pk, title in real:
        query = title if titles[normalise_title(title)] == 1 else ""
        for _ in range(edits):
            query = typo(query, rng) if query else ""
        if query and not titles[normalise_title(query)]:
            cases.append((query, pk))
        if len(cases) == sample:
            break
    sides = search_sides(before)
    log(f"{len(cases)} real titles with {edits} typo(s) each; load average {os.getloadavg()}")
    print("\n| typo'd real title (known item) | code | mode | titles of 1-3 words: hit@1 / MRR@10 (n)"
          " | 4 or more words: hit@1 / MRR@10 (n) | p50 / p99, each searched once |"
          "\n| --- | --- | --- | --- | --- | --- |")  # fmt: skip
    for mode in ("keyword", "hybrid"):
        scores: dict[str, dict[bool, list[float]]] = {name: {False: [], True: []} for name in sides}
        spent: dict[str, list[float]] = {name: [] for name in sides}
        for n, (query, pk) in enumerate(cases):
            for name in in_turn(sides, n):
                started = time.perf_counter()
                ranked = [movie.pk for movie in sides[name](films_qs, query, mode=mode, limit=10).results]
                spent[name].append(time.perf_counter() - started)
                scores[name][len(query.split()) >= 4].append(1 / (ranked.index(pk) + 1) if pk in ranked else 0.0)
        for name in sides:
            cells = [
                f"{sum(score == 1 for score in found) / len(found):.3f} / {statistics.mean(found):.3f} ({len(found)})"
                for found in (scores[name][False], scores[name][True])
            ]
            p50, p99 = percentiles(spent[name])
            print(f"| | {name} | {mode} | {cells[0]} | {cells[1]} | {p50:.1f} / {p99:.1f} ms |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server-rss", action="store_true", help="only the memory of a warmed server-like process")
    parser.add_argument("--knn", action="store_true", help="only knn similar films (read-only)")
    parser.add_argument(
        "--before",
        help="with --knn: a checkout whose recommender/similar.py is timed beside; with --search-only, --typos or"
        " --signals, its catalog/search.py",
    )
    parser.add_argument("--typos", type=int, help="only known-item search for this many typo'd real titles")
    parser.add_argument(
        "--signals", action="store_true", help="only each signal's cost per query (wall ms / backend CPU ms)"
    )
    parser.add_argument("--typo-edits", type=int, default=1, help="with --typos: typos per title")
    parser.add_argument("--pool", type=int, help="with --knn: this code with knn's pool of this size, beside")
    parser.add_argument("--search-only", action="store_true", help="only keyword and hybrid search")
    args = parser.parse_args()
    if args.server_rss:
        server_rss()
        return
    if args.knn:
        knn_only(args.seeds, args.before, args.pool)
        return
    if args.search_only or args.typos or args.signals:
        _setup()
        from moviesite.warmup import prepare_for_requests

        prepare_for_requests()
        log(f"load average {os.getloadavg()}")
        if args.signals:
            signal_costs(args.rounds, args.before)
        elif args.typos:
            typo_check(args.typos, args.before, args.typo_edits)
        else:
            time_search(args.rounds, args.before)
        log(f"load average {os.getloadavg()}")
        return
    connection = _setup()
    from moviesite.warmup import prepare_for_requests

    prepare_for_requests()
    import psutil

    from catalog.models import Movie
    from recommender.models import SimilarList
    from recommender.similar import KNN_POOL, similar_films

    log(f"load average {os.getloadavg()}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(embedding) FROM catalog_movie")
        films, with_vectors = cursor.fetchone()
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"{films} films, {with_vectors} with vectors; database {cursor.fetchone()[0]}")
        cursor.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class WHERE relkind IN ('r', 'i')"
            " ORDER BY pg_total_relation_size(oid) DESC LIMIT 12"
        )
        print("largest relations: " + ", ".join(f"{name} {size}" for name, size in cursor.fetchall()))
        for name in ("shared_buffers", "maintenance_work_mem", "hnsw.ef_search", "work_mem"):
            cursor.execute(f"SHOW {name}")
            print(f"{name} = {cursor.fetchone()[0]}")

    pks, exact = exact_neighbours(args.seeds + 1)
    log("exact neighbours computed")
    seeds = Movie.objects.with_details().in_bulk(pks)
    ordered = [seeds[pk] for pk in pks]
    warm_up, seeds_list, exact = ordered[0], ordered[1:], exact[1:]
    similar_films(warm_up, method="knn")
    base = Movie.objects.all().visible()
    print("\n| index scan (Movie.objects.nearest) | recall@40 | p50 | p99 |\n| --- | --- | --- | --- |")
    for pool in (40, 100, 200, KNN_POOL):
        found, timings = [], []
        for seed, truth in zip(seeds_list, exact, strict=True):
            started = time.perf_counter()
            rows_found = base.exclude(pk=seed.pk).nearest(seed.embedding, model=seed.embedding_model, limit=pool)
            timings.append(time.perf_counter() - started)
            found.append(len({pk for pk, _ in rows_found[:K]} & truth) / K)
        p50, p99 = percentiles(timings)
        print(f"| limit {pool} (hnsw.ef_search {max(pool, 40)}) | {statistics.mean(found):.3f} "
              f"| {p50:.1f} ms | {p99:.1f} ms |", flush=True)  # fmt: skip

    first = []
    for seed in seeds_list:
        SimilarList.objects.filter(movie=seed).delete()
        started = time.perf_counter()
        similar_films(seed, method="knn")
        first.append(time.perf_counter() - started)
    p50, p99 = percentiles(first)
    print(f"\nknn similar_films, first call, {len(first)} seeds: p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)

    time_search(args.rounds)

    rss = psutil.Process().memory_info().rss / 2**20
    db_rss, db_pss = memory_of_server(connection.settings_dict["PGDATA"])
    print(f"\nthis process after warm-up (Django, encoder, the queries above): RSS {rss:.0f} MB")
    print(f"database server: RSS {db_rss:.0f} MB summed over its processes, PSS {db_pss:.0f} MB")
    log(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
