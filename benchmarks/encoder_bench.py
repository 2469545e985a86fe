"""The query encoders side by side: torch, ONNX fp32 and ONNX int8, one thread each, in one process.

    .venv/bin/python benchmarks/encoder_bench.py [--queries 400] [--catalog-db search_bench_tmdb]

Queries: distinct real ones, half IMDB-Movie-Data `Description`s (a described plot) and half TMDB 5000 titles
(a title search), seeded; never IMDB Top 1000's `Overview`. Each query is encoded by the three encoders in
turn (the order rotating), so the machine's load falls on all three alike. Reported:

- p50 / p99 / mean ms per query, one intra-op thread each (what a gunicorn worker uses);
- model file size, load time and RSS of a fresh process that loads one encoder and encodes one query;
- agreement with torch: mean / min cosine of the query vectors, and the overlap of the 10 nearest films (exact
  cosine against the catalog's stored torch vectors) between torch's query vector and the ONNX one;
- documents: cosine of each encoder's vectors of 256 of the catalog's film texts with their stored torch vectors,
  films/s at batch 64, and the overlap of each film's 10 nearest films (similar films) if the first
  `--documents` films (all by default) were embedded by ONNX int8 instead of torch;
- with --concurrency N: queries/s of N threads sharing one encoder, ONNX Runtime at 1 and 2 intra-op threads,
  as a gunicorn worker's threads share it (one process: the 2 cores are all there is), and the CPU time each
  query cost (`--concurrency-only` runs just this).

The catalog (`--catalog-db`, default search_bench_tmdb, the TMDB 5000 catalog search_quality.py imports) is read
from this worktree's embedded server; without it, the film-level figures are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
IMDB_DATA = DATASETS / "imdb-movie-data" / "IMDB-Movie-Data.csv.gz"
TMDB = DATASETS / "tmdb-5000" / "tmdb_5000_movies.csv.gz"
ENCODERS = ("torch", "onnx", "onnx-int8")
K = 10


def django_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
    import django

    django.setup()


def real_queries(count: int) -> list[tuple[str, str]]:
    """(kind, query): distinct IMDB-Movie-Data descriptions and TMDB titles, half each, seeded."""
    rng = random.Random(16)
    descriptions = sorted(set(pd.read_csv(IMDB_DATA)["Description"].dropna()))
    titles = sorted(set(pd.read_csv(TMDB, usecols=["title"])["title"].dropna()))
    picked = [("description", q) for q in rng.sample(descriptions, count // 2)]
    picked += [("title", q) for q in rng.sample(titles, count - count // 2)]
    rng.shuffle(picked)
    return picked


def make_encoder(choice: str, threads: int = 1):
    from recommender import encoders
    from recommender.onnx_encoder import OnnxEncoder

    if choice == "torch":
        import torch  # only here: an ONNX process never imports it, which its RSS shows

        torch.set_num_threads(threads)
        return encoders.LocalEncoder()
    from django.conf import settings

    return OnnxEncoder(choice, cache_dir=settings.ONNX_CACHE_DIR, threads=threads)


def rss_child(choice: str) -> None:
    """Run in a fresh process: load one encoder, encode one query, print load seconds and RSS."""
    import psutil

    started = time.perf_counter()
    django_setup()
    encoder = make_encoder(choice)
    encoder.load()
    encoder.encode(["a query"])
    loaded = time.perf_counter() - started
    modules = sorted(name for name in ("torch", "onnxruntime", "sentence_transformers") if name in sys.modules)
    rss = psutil.Process().memory_info().rss / 2**20
    print(json.dumps({"load_s": loaded, "rss_mb": rss, "imported": modules}))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def catalog_vectors(db: str) -> tuple[list[int], np.ndarray, list[str]] | None:
    """The catalog's film ids, stored torch vectors and document texts, from this worktree's embedded server."""
    from django.db import connections

    from catalog.models import Movie

    settings_dict = dict(connections.databases["default"], NAME=db)
    connections.databases["catalog"] = settings_dict
    try:
        films = list(Movie.objects.using("catalog").with_details().filter(embedding__isnull=False).order_by("pk"))
    except Exception as error:  # no catalog: the film-level figures are skipped
        print(f"no catalog {db} ({error.__class__.__name__}); film-level figures skipped")
        return None
    if not films:
        return None
    matrix = np.vstack([np.asarray(m.embedding, dtype=np.float32) for m in films])
    return [m.pk for m in films], matrix, [m.document() for m in films]


def top_k(matrix: np.ndarray, vectors: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    scores = vectors @ matrix.T
    if exclude_self:
        np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1, kind="stable")[:, :K]


def overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray([len(set(x) & set(y)) / K for x, y in zip(a, b, strict=True)])


def concurrency(queries: list[str], threads: int, seconds: float) -> None:
    """Queries/s of `threads` threads sharing one encoder, and the CPU time each query cost: on a loaded machine
    the wall-clock rate favours whoever runs more threads, while CPU per query says what a saturated server pays."""
    print(f"\n#### {threads} threads sharing one encoder, {seconds:.0f} s each\n")
    print("| encoder | intra-op threads | queries/s | CPU ms per query |")
    print("| --- | --- | --- | --- |")
    for choice, intra in (("torch", 1), ("onnx", 1), ("onnx", 2), ("onnx-int8", 1), ("onnx-int8", 2)):
        encoder = make_encoder(choice, intra)
        encoder.encode(queries[:2])
        done = [0] * threads
        stop = time.perf_counter() + seconds

        def work(slot: int, encoder=encoder, stop=stop, done=done) -> None:
            i = slot
            while time.perf_counter() < stop:
                encoder.encode([queries[i % len(queries)]])
                done[slot] += 1
                i += threads

        workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
        cpu = time.process_time()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        cpu = time.process_time() - cpu
        print(f"| {choice} | {intra} | {sum(done) / seconds:.0f} | {cpu / sum(done) * 1000:.1f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--catalog-db", default="search_bench_tmdb")
    parser.add_argument("--documents", type=int, default=4803, help="films re-embedded by ONNX (all by default)")
    parser.add_argument("--concurrency", type=int, default=0, help="threads for the shared-encoder test")
    parser.add_argument("--concurrency-only", action="store_true", help="only the shared-encoder test")
    parser.add_argument("--rss-child", choices=ENCODERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return
    django_setup()
    if args.concurrency_only:
        print(f"`uptime` before: {os.getloadavg()}")
        concurrency([query for _, query in real_queries(args.queries)], args.concurrency or 4, 10.0)
        print(f"\n`uptime` after: {os.getloadavg()}")
        return
    from django.conf import settings

    from recommender.onnx_encoder import FP32_FILE, INT8_FILE, build, model_path

    directory = build(settings.ONNX_CACHE_DIR)
    picked = real_queries(args.queries)
    kinds = np.asarray([kind for kind, _ in picked])
    queries = [query for _, query in picked]
    counts = f"{sum(kinds == 'description')} IMDB descriptions, {sum(kinds == 'title')} TMDB titles"
    print(f"### Query encoders: {len(queries)} distinct queries ({counts}), one thread each")
    print(f"\n`uptime` before: {os.getloadavg()}\n")

    fresh = {}
    for choice in ENCODERS:
        out = subprocess.run(
            [sys.executable, __file__, "--rss-child", choice], capture_output=True, text=True, check=True
        ).stdout
        fresh[choice] = json.loads(out.strip().splitlines()[-1])
    sizes = {
        "torch": (model_path() / "model.safetensors").stat().st_size,
        "onnx": (directory / FP32_FILE).stat().st_size,
        "onnx-int8": (directory / INT8_FILE).stat().st_size,
    }

    encoders = {choice: make_encoder(choice) for choice in ENCODERS}
    for encoder in encoders.values():
        encoder.encode(queries[:3])  # warm up
    times: dict[str, list[float]] = {choice: [] for choice in ENCODERS}
    vectors: dict[str, list[np.ndarray]] = {choice: [] for choice in ENCODERS}
    for i, query in enumerate(queries):
        order = ENCODERS[i % 3 :] + ENCODERS[: i % 3]
        for choice in order:
            started = time.perf_counter()
            vector = encoders[choice].encode([query])[0]
            times[choice].append(time.perf_counter() - started)
            vectors[choice].append(vector)
    matrix = {choice: np.vstack(rows) for choice, rows in vectors.items()}

    catalog = catalog_vectors(args.catalog_db)
    print(
        "| encoder | p50 ms | p99 ms | mean ms | file MB | load s (fresh process) | RSS MB | cosine with torch "
        "mean / min |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for choice in ENCODERS:
        cosine = (matrix[choice] * matrix["torch"]).sum(axis=1)
        print(
            f"| {choice} | {percentile(times[choice], 50):.2f} | {percentile(times[choice], 99):.2f} | "
            f"{np.mean(times[choice]) * 1000:.2f} | {sizes[choice] / 1e6:.1f} | {fresh[choice]['load_s']:.1f} | "
            f"{fresh[choice]['rss_mb']:.0f} | {cosine.mean():.4f} / {cosine.min():.4f} |"
        )
    print(f"\n(imports of each fresh process: { {c: fresh[c]['imported'] for c in ENCODERS} })")

    if catalog is not None:
        ids, films, documents = catalog
        print(f"\n#### Top-{K} nearest films of the query, against the catalog's torch vectors ({len(ids)} films)\n")
        print("| encoder | kind | top-10 overlap with torch's mean / min | same first film |")
        print("| --- | --- | --- | --- |")
        reference = top_k(films, matrix["torch"])
        for choice in ("onnx", "onnx-int8"):
            mine = top_k(films, matrix[choice])
            shared = overlap(reference, mine)
            for kind in ("description", "title"):
                rows = kinds == kind
                same = float((reference[rows, 0] == mine[rows, 0]).mean())
                print(f"| {choice} | {kind} | {shared[rows].mean():.3f} / {shared[rows].min():.1f} | {same:.3f} |")

        sample = slice(0, 256)
        print(
            "\n#### Documents: the catalog's film texts embedded by each encoder, against their stored torch vectors\n"
        )
        print(f"| encoder | cosine mean / min ({len(documents[sample])} films) | films/s at batch 64 |")
        print("| --- | --- | --- |")
        for choice in ENCODERS:
            started = time.perf_counter()
            embedded = encoders[choice].encode(documents[sample], batch_size=64)
            rate = len(embedded) / (time.perf_counter() - started)
            cosine = (embedded * films[sample]).sum(axis=1)
            print(f"| {choice} | {cosine.mean():.4f} / {cosine.min():.4f} | {rate:.1f} |", flush=True)
        count = min(args.documents, len(ids))
        if count:
            # Each film's 10 nearest films (similar films) if `count` films had been embedded by int8 instead.
            embedded = encoders["onnx-int8"].encode(documents[:count], batch_size=64)
            swapped = films.copy()
            swapped[:count] = embedded
            shared = overlap(top_k(films, films[:count], exclude_self=True), top_k(swapped, swapped[:count], True))
            print(f"\nSimilar films (10 nearest by cosine) of {count} films, all {count} re-embedded by onnx-int8 ")
            print(f"against all torch: overlap mean {shared.mean():.3f}, min {shared.min():.1f}")

    if args.concurrency:
        concurrency(queries, args.concurrency, 10.0)
    print(f"\n`uptime` after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
