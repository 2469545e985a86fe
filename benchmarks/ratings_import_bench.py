"""Speed and memory of the ratings import, on a synthetic MovieLens-style ratings file.

    .venv/bin/python benchmarks/ratings_import_bench.py --rows 25000000

Writes /tmp/ratings_synthetic_<rows>.csv once (userId,movieId,rating,timestamp; ~150 ratings a user, films
drawn Zipf-like from links_small's MovieLens ids, about half of which the catalog has), then runs
`import_movies FILE --no-embed --no-fit` twice in a subprocess (a first import, then a forced re-run that
finds every rating unchanged) against `moviesite_ratings_bench`, a copy of `moviesite_cf_bench` (TMDB 5000 +
links_small, built by benchmarks/cf_quality.py). Prints wall time, rows/s and the subprocess's peak RSS.
The file is never committed: a script makes it again.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LINKS = ROOT.parent / "shared" / "datasets" / "the-movies-dataset" / "links_small.csv.gz"
TEMPLATE = "moviesite_cf_bench"
DATABASE = "moviesite_ratings_bench"
CHUNK = 1_000_000


def write_file(rows: int, path: Path) -> None:
    rng = np.random.default_rng(25)
    movies = pd.read_csv(LINKS)["movieId"].to_numpy()
    weights = 1 / np.arange(1, len(movies) + 1) ** 0.9
    weights /= weights.sum()
    stars = np.arange(1, 11) / 2
    star_weights = np.array([1, 3, 2, 7, 5, 20, 13, 26, 8, 15], dtype=float)
    star_weights /= star_weights.sum()
    with path.open("w") as handle:
        handle.write("userId,movieId,rating,timestamp\n")
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            users = (np.arange(start, start + n) // 150) + 1
            frame = pd.DataFrame(
                {
                    "userId": users,
                    "movieId": rng.choice(movies, size=n, p=weights),
                    "rating": rng.choice(stars, size=n, p=star_weights),
                    "timestamp": rng.integers(800_000_000, 1_500_000_000, size=n),
                }
            )
            frame.to_csv(handle, header=False, index=False)


def ensure_database(env: dict) -> None:
    script = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection._nodb_cursor() as c:\n"
        f"    c.execute(\"SELECT 1 FROM pg_database WHERE datname='{DATABASE}'\")\n"
        "    if not c.fetchone():\n"
        f"        c.execute('CREATE DATABASE {DATABASE} TEMPLATE {TEMPLATE}')\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env={**env, "MOVIESITE_DB_NAME": "postgres"})


def run_import(path: Path, env: dict, *extra: str) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, output) of one import in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "import_movies", str(path), "--no-embed", "--no-fit", *extra],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far (kB on Linux); each run is measured in a fresh process.
    lines = done.stdout.strip().splitlines()
    return elapsed, max(peak, before) / 1024, f"{lines[0]}\n  {lines[-1]}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=25_000_000)
    args = parser.parse_args()
    path = Path(f"/tmp/ratings_synthetic_{args.rows}.csv")
    if not path.exists():
        started = time.monotonic()
        write_file(args.rows, path)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - started:.0f}s")
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "moviesite.settings", "MOVIESITE_DB_NAME": DATABASE}
    ensure_database(env)
    for label, extra in (("first import", ()), ("re-run (--force)", ("--force",))):
        elapsed, peak, line = run_import(path, env, *extra)
        rate = args.rows / elapsed
        print(f"{label}: {args.rows:,} rows in {elapsed:.1f}s ({rate:,.0f} rows/s), peak RSS {peak:.0f} MB")
        print(f"  {line}")


if __name__ == "__main__":
    main()
