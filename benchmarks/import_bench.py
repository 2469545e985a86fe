"""Import benchmark on the real datasets in ../shared/datasets (run by hand; figures go to RESULTS.md).

    .venv/bin/python benchmarks/import_bench.py [--skip-embeddings]

Uses its own database (`moviesite_import_bench`, recreated) on the configured server, and measures:
1. TMDB 5000 metadata-only (films/s),
2. merging IMDB-Movie-Data, IMDB Top 1000 and MovieLens links onto it (match counts per file),
3. a re-run of the unchanged import,
4. with local embeddings: the whole `import_movies` pipeline on TMDB 5000 against the model's own encode rate
   on the very texts the pipeline embedded, and a re-run of that import.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
TMDB = DATASETS / "tmdb-5000" / "tmdb_5000_movies.csv.gz"
MERGES = [
    DATASETS / "imdb-movie-data" / "IMDB-Movie-Data.csv.gz",
    DATASETS / "imdb-top-1000" / "imdb_top_1000.csv.gz",
    DATASETS / "movielens-latest-small" / "links.csv.gz",
]
DATABASE = "moviesite_import_bench"

sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["MOVIESITE_DB_NAME"] = DATABASE


def manage(*args: str) -> tuple[float, str]:
    """Run a management command in its own process, as an operator would; (seconds, output)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True, env=os.environ, check=True
    )
    return time.perf_counter() - started, done.stdout


def fresh_database() -> None:
    import django

    django.setup()
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {DATABASE}")
    manage("migrate", "--no-input", "-v0")


def summary(output: str) -> str:
    return "\n".join("    " + line for line in output.strip().splitlines())


def model_rate_on_pipeline_texts() -> tuple[int, float]:
    """Encode the documents the pipeline embedded, with the model alone (same batch size); (texts, seconds)."""
    from catalog.models import Movie
    from recommender.encoders import get_encoder

    documents = [movie.document() for movie in Movie.objects.with_details()]
    encoder = get_encoder("local")
    encoder.encode(documents[:64])  # load the model outside the timing, as the pipeline's figure includes it
    started = time.perf_counter()
    encoder.encode(documents, batch_size=64)
    return len(documents), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-embeddings", action="store_true")
    args = parser.parse_args()

    fresh_database()
    seconds, output = manage("import_movies", str(TMDB), "--no-embed")
    print(f"1. TMDB 5000 metadata-only: {seconds:.1f}s wall, {4803 / seconds:.0f} films/s (process included)")
    print(summary(output))

    seconds, output = manage("import_movies", *map(str, MERGES), "--no-embed")
    print(f"2. merging {len(MERGES)} files onto it: {seconds:.1f}s")
    print(summary(output))

    first, _ = manage("import_movies", str(TMDB), *map(str, MERGES), "--no-embed")
    print(f"3. re-run of the unchanged import (all four files, metadata): {first:.1f}s")

    if args.skip_embeddings:
        return
    fresh_database()
    seconds, output = manage("import_movies", str(TMDB))
    print(f"4. TMDB 5000 with local embeddings: {seconds:.1f}s wall, {4803 / seconds:.1f} films/s end to end")
    print(summary(output))
    texts, encode_seconds = model_rate_on_pipeline_texts()
    print(
        f"   the model alone on the same {texts} texts: {encode_seconds:.1f}s, {texts / encode_seconds:.1f} texts/s;"
        f" pipeline/model time = {seconds / encode_seconds:.2f}"
    )
    rerun, output = manage("import_movies", str(TMDB))
    print(f"5. re-run of the unchanged import with embeddings: {rerun:.1f}s ({seconds / rerun:.0f}x faster)")
    print(summary(output))


if __name__ == "__main__":
    main()
