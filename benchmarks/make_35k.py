"""Build a ~35k-film catalog for latency checks: the search benchmark's 5,676 real films plus synthetic copies.

    .venv/bin/python benchmarks/make_35k.py        # then: MOVIESITE_DB_NAME=moviesite_35k benchmarks/latency.py

Each copy keeps a real film's text and credits-derived search columns, gets a numbered title, and a vector
perturbed with Gaussian noise (then renormalised), so the HNSW graph and the full-text index see 35k distinct
rows. Created as a copy of `moviesite_search_bench` (run benchmarks/search_quality.py first).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["MOVIESITE_DB_NAME"] = "moviesite_35k"

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

COPIES = 5  # 5,676 x (1 + 5) = 34k


def main() -> None:
    with connection._nodb_cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS moviesite_35k WITH (FORCE)")
        cursor.execute("CREATE DATABASE moviesite_35k TEMPLATE moviesite_search_bench")
    columns = [
        f.column
        for f in __import__("catalog.models", fromlist=["Movie"]).Movie._meta.concrete_fields
        if not f.generated and f.column not in {"id", "title", "embedding", "imdb_id", "tmdb_id", "movielens_id"}
    ]
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        for copy in range(1, COPIES + 1):
            cursor.execute(
                f"""INSERT INTO catalog_movie (title, embedding, {names})
                    SELECT title || ' (copy {copy})',
                           l2_normalize(embedding + (SELECT array_agg(random() * 0.1 - 0.05)::vector(384)
                                                      FROM generate_series(1, 384) WHERE m.id IS NOT NULL)),
                           {names}
                    FROM catalog_movie m WHERE title NOT LIKE '%%(copy %%'"""
            )
            print(f"copy {copy}: {cursor.rowcount} films", flush=True)
        cursor.execute("SELECT count(*) FROM catalog_movie")
        print("films:", cursor.fetchone()[0])
    from catalog.search import refresh_lexeme_stats

    refresh_lexeme_stats()


if __name__ == "__main__":
    main()
