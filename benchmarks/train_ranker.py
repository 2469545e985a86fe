"""Train the learned search fusion (catalog/ranker.py) on the dev halves of benchmarks/search_quality.py's
query sets, on both catalogs, and write its weights (a few kilobytes of JSON) to catalog/ranker_weights.json,
which search then uses for description-shaped queries (catalog.ranker.LinearRanker.covers).

    SEARCH_BENCH_CACHE=... MOVIESITE_PGDATA=... .venv/bin/python benchmarks/train_ranker.py --db-prefix story [--cv]

Builds (or reuses) the catalogs and the signals cache as search_quality.py does, with the product's query
encoder (settings.QUERY_ENCODER), but with the semantic pools read by exact search: on catalogs imported afresh
into new databases it writes the committed file byte for byte (two independent builds checked, RESULTS.md,
issue 13, ninth round); reads ../shared/datasets. Held-out queries are never read here: they
are filtered out before any feature is made. The model is one pairwise logistic regression per mode (RankNet
with a linear scorer): for each dev query, the feature difference between the right film and each other
candidate is a positive example, the reverse a negative one; each query weighs the same, and each source the
same in total. `--cv` first prints a two-fold cross-validation on the dev queries (folds by query text), the
model against the hand-set fusion, per catalog and source: how C and the negatives were chosen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import search_quality as bench  # noqa: E402

from catalog import ranker  # noqa: E402

# Negatives per query: the candidates that reach this deep in any signal's ranking (None: every candidate).
# Every candidate did better in the dev cross-validation than the 30 best of each signal (RESULTS.md).
HARD_NEGATIVE_RANK: int | None = None
# The regularisation per mode, chosen by the dev cross-validation (`--cv`): keyword between 0.1 and 1
# (benchmarks/RESULTS.md, issue 13, fourth round); hybrid among 0.1, 0.3, 1 and 3 since its features include
# every candidate's BM25F (fifth round; 0.1 before); semantic 1 or 30 for its two features since semantic mode
# reads both vectors (sixth round: within 0.001 of each other), and 0.3, 1 or 3 for its three since its votes
# priors saturate (seventh round: within 0.005 MRR of each other on descriptions).
C = {"keyword": 1.0, "semantic": 1.0, "hybrid": 1.0}
# The signals each mode fuses (search.signals computes them all; `search()` asks only for these).
KEEP = {
    "keyword": {"keyword", "title", "quote"},
    "semantic": {"semantic"},
    "hybrid": {"keyword", "title", "quote", "semantic", "bm25f", "coverage"},
}


def export_dev(catalog: str, sample: int, path: Path) -> None:
    """Child process: the dev queries of one catalog with their signals, answers and candidates' votes."""
    bench.django_setup()
    from django.conf import settings

    bench.ensure_catalog(catalog)
    sets = bench.query_sets(sample)
    dev = [
        (name, query, relevant) for name, cases in sets.items() for query, relevant, split in cases if split == "dev"
    ]
    queries = sorted({query for _, query, _ in dev})
    # The query encoder search uses (its vectors differ from torch's in the last digits).
    bench.use_query_encoder(queries, settings.QUERY_ENCODER)
    # Exact semantic pools: the weights come out the same on every import of the files (the HNSW graphs do not).
    signals = bench.collect_signals(catalog, queries, settings.QUERY_ENCODER, exact=True)
    priors = bench.votes()
    rows = [(name, query, relevant, signals[query]) for name, query, relevant in dev]
    path.write_bytes(pickle.dumps({"rows": rows, "priors": priors}))


def examples(rows, priors, mode: str):
    names = ranker.FEATURES_BY_MODE[mode]
    keep = KEEP[mode]
    per_source = defaultdict(int)
    for name, query, _, _ in rows:
        per_source[name] += len(query.split()) >= ranker.LONG_QUERY_WORDS
    X, y, w = [], [], []
    for source, query, relevant, rankings in rows:
        rankings = {n: r for n, r in bench.mode_rankings(rankings, mode).items() if n in keep}
        q = " ".join(query.split())
        if len(q.split()) < ranker.LONG_QUERY_WORDS:
            continue  # shorter queries keep the hand-set fusion (catalog.ranker.LinearRanker.covers)
        keys, columns = ranker.features(rankings, q, priors, mode=mode)
        matrix = np.array([columns[n] for n in names], dtype=np.float64).T if keys else np.zeros((0, len(names)))
        positives = [i for i, key in enumerate(keys) if key in relevant]
        if not positives:
            continue
        hard = {key for r in rankings.values() for key, _ in r[:HARD_NEGATIVE_RANK]}
        negatives = [i for i, key in enumerate(keys) if key not in relevant and key in hard]
        if not negatives:
            continue
        weight = 1.0 / (len(positives) * len(negatives) * per_source[source])
        for p in positives:
            diff = matrix[p] - matrix[negatives]
            X.append(diff)
            X.append(-diff)
            y.extend([1] * len(negatives) + [0] * len(negatives))
            w.extend([weight] * (2 * len(negatives)))
    return np.vstack(X), np.array(y), np.array(w) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", type=int, default=600)
    parser.add_argument("--db-prefix", default="search_bench")
    parser.add_argument("--child", choices=bench.CATALOGS, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ranker.WEIGHTS_PATH))
    parser.add_argument("--cv", action="store_true", help="print a two-fold cross-validation on the dev queries")
    parser.add_argument("--catalogs", nargs="+", choices=bench.CATALOGS, default=list(bench.CATALOGS))
    parser.add_argument("--reuse", action="store_true", help="reuse the dev exports of a previous run (/tmp)")
    args = parser.parse_args()
    bench.CACHE.mkdir(parents=True, exist_ok=True)
    if args.child:
        export_dev(args.child, args.sample, bench.CACHE / f"dev-{args.child}.pickle")
        return
    rows, priors = [], {}
    for catalog in args.catalogs:
        env = dict(os.environ, MOVIESITE_DB_NAME=f"{args.db_prefix}_{catalog}", DEBUG="1")
        if not args.reuse:
            command = [sys.executable, __file__, "--child", catalog, "--sample", str(args.sample)]
            subprocess.run(command, check=True, env=env)
        data = pickle.loads((bench.CACHE / f"dev-{catalog}.pickle").read_bytes())
        # Ids are per database: keep each catalog's rows with its own votes, keyed apart.
        offset = 10**9 * bench.CATALOGS.index(catalog)
        for source, query, relevant, rankings in data["rows"]:
            shifted = {n: [(key + offset, s) for key, s in r] for n, r in rankings.items()}
            rows.append((f"{catalog}:{source}", query, {key + offset for key in relevant}, shifted))
        priors.update({key + offset: v for key, v in data["priors"].items()})
    if args.cv:
        cross_validate(rows, priors)
    weights = {mode: fit(rows, priors, mode) for mode in ranker.FEATURES_BY_MODE}
    for mode, table in weights.items():
        print(f"{mode}: " + ", ".join(f"{n} {c:+.2f}" for n, c in table.items()))
    bias = dict.fromkeys(weights, 0.0)
    Path(args.out).write_text(
        json.dumps({"trained_on": "dev halves, benchmarks/train_ranker.py", "weights": weights, "bias": bias}, indent=1)
        + "\n"
    )
    print(f"wrote {args.out}")


def fit(rows, priors, mode: str) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    X, y, w = examples(rows, priors, mode)
    model = LogisticRegression(C=C[mode], fit_intercept=False, max_iter=5000)
    model.fit(X, y, sample_weight=w)
    return {name: round(float(c), 5) for name, c in zip(ranker.FEATURES_BY_MODE[mode], model.coef_[0], strict=True)}


def fold_of(query: str) -> int:
    return int(hashlib.md5(query.encode()).hexdigest(), 16) % 2


def cross_validate(rows, priors) -> None:
    """Two folds of the dev queries: each mode's model trained on one fold ranks the other's described queries;
    MRR@10 / hit@10 beside the hand-set fusion's on the same queries."""
    from catalog import search

    print("| mode | catalog:source (queries) | model MRR@10 / hit@10 | hand-set MRR@10 / hit@10 |")
    print("| --- | --- | --- | --- |")
    for mode in ranker.FEATURES_BY_MODE:
        found: dict[str, list[tuple[int | None, int | None]]] = defaultdict(list)
        for held in (0, 1):
            model = ranker.LinearRanker(weights={mode: fit([r for r in rows if fold_of(r[1]) != held], priors, mode)})
            for source, query, relevant, rankings in rows:
                q = " ".join(query.split())
                if fold_of(query) != held or not model.covers(mode, 0.5, q):
                    continue
                rankings = {n: r for n, r in bench.mode_rankings(rankings, mode).items() if n in KEEP[mode]}
                learned = model.rank(rankings, q, mode=mode, alpha=0.5, priors=priors)
                hand = search.hand_fusion(rankings, q, mode=mode, alpha=0.5)
                found[source].append(tuple(rank_in(finish(f, rankings, q, mode), relevant) for f in (learned, hand)))
        for source, ranks in sorted(found.items()):
            cells = [summary([pair[i] for pair in ranks]) for i in (0, 1)]
            print(f"| {mode} | {source} ({len(ranks)}) | {cells[0]} | {cells[1]} |", flush=True)


def finish(fused, rankings, query: str, mode: str):
    """What `search.fuse` does after either fusion: quoted films, then a standing-out title, first."""
    from catalog import search

    if search.QUOTE_FIRST and mode in search.QUOTE_FIRST_MODES:
        fused = search.quote_first(fused, rankings.get("quote") or [])
    return search.title_first(fused, rankings.get("title") or [], query) if search.TITLE_FIRST else fused


def rank_in(fused, relevant) -> int | None:
    return next((i for i, entry in enumerate(fused[: bench.K], start=1) if entry.key in relevant), None)


def summary(ranks: list[int | None]) -> str:
    n = len(ranks) or 1
    return f"{sum(1 / r for r in ranks if r) / n:.3f} / {sum(r is not None for r in ranks) / n:.3f}"


if __name__ == "__main__":
    main()
