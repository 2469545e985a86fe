"""What the keyword and title signals cost, before and after issue 16's rewrite, interleaved query by query in
one process, and whether they rank the same films with the same scores.

    .venv/bin/python benchmarks/signal_cost.py [--database search_bench_tmdb] [--queries 400]
        [--paths benchmarks/.cache/serve_load/this/search.txt]

The queries are the `q` of the search requests benchmarks/serve_load.py wrote (typo'd titles, IMDB-Movie-Data
descriptions, TMDB taglines), in a seeded order. For each query, each side runs once untimed (so neither pays
for the other's cold pages) and then both are timed, the side going first alternating. Reported per signal and
side: Postgres backend CPU (psutil on the connection's backend, summed over all queries: the clock ticks are
10 ms), Python CPU, wall p50 / p99 and statements per call; and how many queries got a different list.

"Before" is the code of commit 46e90ae, kept here (`legacy_keyword_scores`, `legacy_title_scores`) as the
reference the tests also compare against (catalog/tests/test_search_cost.py).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def legacy_keyword_scores(films, query: str, *, limit: int) -> list[tuple[int, float]]:
    """catalog.search.keyword_scores as of 46e90ae: a correlated subquery per candidate over the query's words."""
    from django.contrib.postgres.search import SearchQuery, SearchRank
    from django.db import models
    from django.db.models import F
    from django.db.models.expressions import RawSQL

    from catalog import search
    from moviesite.db import nulls_last

    if search.uses_syntax(query):
        tsquery = SearchQuery(query, search_type="websearch", config=search.SEARCH_CONFIG)
        rank = SearchRank(F("search_vector"), tsquery, weights=search.RANK_WEIGHTS, normalization=1)
        qs = films.filter(search_vector=tsquery).annotate(rank=rank)
    else:
        words, weights = search.weighted_words(query)
        if not words:
            return []
        rare = [word for word, weight in zip(words, weights, strict=True) if weight >= search.CANDIDATE_MIN_IDF]
        any_word = " | ".join(f"'{word}'" for word in rare or words)
        table = films.model._meta.db_table
        rank = RawSQL(
            f"""(SELECT SUM(w.weight * ts_rank(%s::float4[], {table}.search_vector,
                                               to_tsquery('simple', quote_literal(w.word))))
                        * power(count(*)::float8 / %s, %s)
                 FROM unnest(%s::text[], %s::float8[]) AS w(word, weight)
                 WHERE {table}.search_vector @@ to_tsquery('simple', quote_literal(w.word)))""",
            [search.WORD_RANK_WEIGHTS, len(words), search.COVERAGE_EXPONENT, words, weights],
            output_field=models.FloatField(),
        )
        qs = films.filter(search_vector=SearchQuery(any_word, search_type="raw", config="simple")).annotate(rank=rank)
    ranked = qs.order_by("-rank", nulls_last("-vote_count"), "pk").values_list("pk", "rank")[:limit]
    return list(ranked)


def legacy_title_scores(films, query: str, *, limit: int) -> list[tuple[int, float]]:
    """catalog.search.title_scores as of 46e90ae: either trigram operator over the GIN index, thresholds 0.25."""
    from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
    from django.db.models import Q

    from catalog import search
    from catalog.models import normalise_title
    from moviesite.db import local_settings, nulls_last

    if len(query.split()) > search.TITLE_QUERY_MAX_WORDS:
        return []
    qs = (
        films.filter(Q(title__trigram_word_similar=query) | Q(title__trigram_similar=query))
        .annotate(closeness=(TrigramWordSimilarity(query, "title") + TrigramSimilarity("title", query)) / 2)
        .order_by("-closeness", nulls_last("-vote_count"), "pk")
    )
    thresholds = {"pg_trgm.similarity_threshold": 0.25, "pg_trgm.word_similarity_threshold": 0.25}
    with local_settings(thresholds, using=qs.db):
        rows = list(qs.values_list("pk", "closeness", "title")[:limit])
    folded = normalise_title(query)
    scored = [
        (pk, max(closeness, search.edit_closeness(folded, normalise_title(title)))) for pk, closeness, title in rows
    ]
    scored.sort(key=lambda row: -row[1])
    return [(pk, closeness**search.TITLE_CLOSENESS_POWER) for pk, closeness in scored]


def queries_from(path: Path, count: int) -> list[str]:
    queries = []
    for line in path.read_text().splitlines():
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(line).query).get("q", [""])[0]
        if query.strip():
            queries.append(" ".join(query.split()))
    random.Random(5).shuffle(queries)
    return list(dict.fromkeys(queries))[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="search_bench_tmdb")
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--limit", type=int, default=100, help="the signals' pool (search's MIN_POOL)")
    parser.add_argument("--paths", default=str(ROOT / "benchmarks" / ".cache" / "serve_load" / "this" / "search.txt"))
    parser.add_argument("--million", action="store_true", help="benchmarks/million.py's 36 queries and its catalog")
    parser.add_argument("--sides", nargs="+", choices=("before", "after"), default=["before", "after"])
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    if args.million:  # make_1m.py's database, on its own server (MOVIESITE_PGDATA when set elsewhere)
        args.database = "moviesite_1m"
        os.environ.setdefault("MOVIESITE_PGDATA", str(ROOT / "benchmarks" / ".cache" / "pgdata_1m"))
    os.environ.update({"MOVIESITE_DB_NAME": args.database, "DEBUG": "0", "MOVIESITE_ENV_FILE": ""})
    os.environ.setdefault("SECRET_KEY", "signal-cost-" + "x" * 50)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
    import django

    django.setup()
    import psutil
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog import search
    from catalog.models import Movie

    films = Movie.objects.visible()
    if args.million:
        from benchmarks.million import QUERIES

        queries = QUERIES[: args.queries]
    else:
        queries = queries_from(Path(args.paths), args.queries)
    implementations = {
        "keyword": {"before": legacy_keyword_scores, "after": search.keyword_scores},
        "title": {"before": legacy_title_scores, "after": search.title_scores},
    }
    sides: dict[str, dict[str, Callable]] = {
        signal: {side: functions[side] for side in args.sides} for signal, functions in implementations.items()
    }
    films.count()
    backend = psutil.Process(connection.connection.info.backend_pid)
    print(f"{args.database}: {films.count()} films, {len(queries)} queries, load average {os.getloadavg()}")
    for signal, functions in sides.items():
        wall: dict[str, list[float]] = {side: [] for side in functions}
        python = dict.fromkeys(functions, 0.0)
        database = dict.fromkeys(functions, 0.0)
        statements = dict.fromkeys(functions, 0)
        different = 0
        for index, query in enumerate(queries):
            results = {side: function(films, query, limit=args.limit) for side, function in functions.items()}
            different += len(set(map(repr, results.values()))) > 1
            order = list(functions) if index % 2 == 0 else list(reversed(functions))
            for side in order:
                before_db, before_py = backend.cpu_times(), time.process_time()
                started = time.perf_counter()
                with CaptureQueriesContext(connection) as captured:
                    functions[side](films, query, limit=args.limit)
                wall[side].append(time.perf_counter() - started)
                after_db = backend.cpu_times()
                python[side] += time.process_time() - before_py
                database[side] += (after_db.user + after_db.system) - (before_db.user + before_db.system)
                statements[side] += len(captured.captured_queries)
        n = len(queries)
        for side in functions:
            ordered = sorted(wall[side])
            print(
                f"{signal} {side}: postgres cpu {1000 * database[side] / n:.2f} ms/call,"
                f" python cpu {1000 * python[side] / n:.2f} ms/call, wall p50 {1000 * statistics.median(ordered):.2f}"
                f" p99 {1000 * ordered[round(0.99 * (n - 1))]:.2f} ms, statements {statements[side] / n:.1f}/call"
            )
        print(f"{signal}: {different} of {n} queries ranked differently (ids or scores)", flush=True)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
