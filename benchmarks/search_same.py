"""Whether another checkout's catalog/search.py ranks the same films as this one's, query by query: each
signal's list (keyword with its BM25F re-scoring, title) and the whole search's page of ids, keyword and hybrid
(read-only: nothing is written).

    .venv/bin/python benchmarks/search_same.py --before /path/to/other/checkout [--database bench_serve_this]
        [--paths benchmarks/.cache/serve_load/this/search.txt] [--queries 1000]

The queries are the `q` of the search requests benchmarks/serve_load.py wrote (typo'd titles, IMDB-Movie-Data
descriptions, TMDB taglines), in signal_cost.py's seeded order. The other checkout's search module is loaded
beside this one's (its own constants and signals); both read the same database. Hybrid search's query
vectors come from this checkout's encoder for both.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="a checkout whose catalog/search.py is compared")
    parser.add_argument("--database", default="bench_serve_this")
    parser.add_argument("--paths", default=str(ROOT / "benchmarks" / ".cache" / "serve_load" / "this" / "search.txt"))
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.update({"MOVIESITE_DB_NAME": args.database, "DEBUG": "0", "MOVIESITE_ENV_FILE": ""})
    os.environ.setdefault("SECRET_KEY", "search-same-" + "x" * 50)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
    import django

    django.setup()
    from benchmarks.request_cost import module_from
    from benchmarks.signal_cost import queries_from
    from catalog import search
    from catalog.models import Movie

    before = module_from(args.before, "catalog/search.py", "search_before")
    films = Movie.objects.visible()
    queries = queries_from(Path(args.paths), args.queries)
    print(f"{args.database}: {films.count()} films, {len(queries)} queries, load average {os.getloadavg()}")

    def lists(module, query: str) -> dict[str, object]:
        keyword = module.bm25_rescore(films, module.keyword_scores(films, query, limit=100), query)
        return {
            "keyword": keyword,
            "title": module.title_scores(films, query, limit=100),
            **{
                mode: [movie.pk for movie in module.search(films, query, mode=mode, limit=20).results]
                for mode in ("keyword", "hybrid")
            },
        }

    different = dict.fromkeys(("keyword", "title", "keyword search", "hybrid search"), 0)
    for query in queries:
        this, other = lists(search, query), lists(before, query)
        for name in ("keyword", "title"):
            different[name] += this[name] != other[name]
        for mode in ("keyword", "hybrid"):
            different[f"{mode} search"] += this[mode] != other[mode]
    for name, count in different.items():
        print(f"{name}: {count} of {len(queries)} queries ranked differently")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
