"""Train the learned search fusion (catalog/ranker.py) on the dev halves of benchmarks/search_quality.py's
query sets, on both catalogs, and write its weights (a few hundred bytes of JSON) under /tmp; copied to
catalog/ranker_weights.json, search uses them for description-shaped queries. Not shipped: on the dev sets the
model did not beat the hand-set fusion on every source (benchmarks/RESULTS.md, issue 13).

    .venv/bin/python benchmarks/train_ranker.py [--sample 600] [--db-prefix search_bench]

Builds (or reuses) the catalogs and the signals cache exactly as search_quality.py does; reads
../shared/datasets. Held-out queries are never read here: they are filtered out before any feature is made.
The model is one pairwise logistic regression per mode (RankNet with a linear scorer): for each dev query,
the feature difference between the right film and each other candidate is a positive example, the reverse a
negative one; each query weighs the same, and each source the same in total.
"""

from __future__ import annotations

import argparse
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

# Negatives per query: the candidates that reach this deep in any signal's ranking (the ones that compete).
HARD_NEGATIVE_RANK = 30
C = 1.0


def export_dev(catalog: str, sample: int, path: Path) -> None:
    """Child process: the dev queries of one catalog with their signals, answers and candidates' votes."""
    bench.django_setup()
    bench.ensure_catalog(catalog)
    sets = bench.query_sets(sample)
    dev = [
        (name, query, relevant) for name, cases in sets.items() for query, relevant, split in cases if split == "dev"
    ]
    signals = bench.collect_signals(catalog, sorted({query for _, query, _ in dev}))
    priors = bench.votes()
    rows = [(name, query, relevant, signals[query]) for name, query, relevant in dev]
    path.write_bytes(pickle.dumps({"rows": rows, "priors": priors}))


def examples(rows, priors, mode: str):
    names = ranker.FEATURES_BY_MODE[mode]
    keep = {"keyword": {"keyword", "title"}, "semantic": {"semantic"}, "hybrid": {"keyword", "title", "semantic"}}[mode]
    per_source = defaultdict(int)
    for name, query, _, _ in rows:
        per_source[name] += len(query.split()) >= ranker.LONG_QUERY_WORDS
    X, y, w = [], [], []
    for source, query, relevant, rankings in rows:
        rankings = {n: r for n, r in rankings.items() if n in keep}
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
    parser.add_argument(
        "--out", default=str(bench.CACHE / "ranker_weights.json"), help=f"copy to {ranker.WEIGHTS_PATH} to use"
    )
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
    from sklearn.linear_model import LogisticRegression

    weights, bias = {}, {}
    for mode, names in ranker.FEATURES_BY_MODE.items():
        X, y, w = examples(rows, priors, mode)
        model = LogisticRegression(C=C, fit_intercept=False, max_iter=2000)
        model.fit(X, y, sample_weight=w)
        weights[mode] = {name: round(float(c), 5) for name, c in zip(names, model.coef_[0], strict=True)}
        bias[mode] = 0.0
        print(f"{mode}: {len(X)} pairs; " + ", ".join(f"{n} {c:+.2f}" for n, c in weights[mode].items()))
    Path(args.out).write_text(
        json.dumps({"trained_on": "dev halves, benchmarks/train_ranker.py", "weights": weights, "bias": bias}, indent=1)
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
