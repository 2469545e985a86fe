"""What each kind of statement a new search sends costs Postgres: backend CPU per search, by kind (issue 16).

    .venv/bin/python benchmarks/statement_cost.py capture --out /tmp/this.json [--requests 400] [--root CHECKOUT]
    .venv/bin/python benchmarks/statement_cost.py replay /tmp/before.json /tmp/this.json [--reps 4]

`capture` serves the first `--requests` of benchmarks/serve_load.py's search paths (shuffled as request_cost.py
shuffles them) through `--root`'s WSGI application, as request_cost.py --uncached does (answers never kept, the
web server's connection settings), and writes the text of every statement each search sent (client-side
binding: the text Postgres parsed). `replay` runs each file's statements again on one connection of this
checkout's web server settings (the files alternating, kind by kind; BEGIN, COMMIT and the throttle's write left
out), each kind's statements back to back `--reps` times, and prints the backend's CPU per search for each kind:
less noisy than request_cost.py's total on a shared machine, and it says where the time is. Then every file's
statements in their order, throttle and transactions included, the files alternating.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
from pathlib import Path

from request_cost import HERE, backend_cpu, never_keep_answers, production_application, request_paths, wsgi_get

SKIPPED = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")


def kind(sql: str) -> str:
    """A statement's kind, by the parts of catalog.search and catalog.querysets that write it."""
    text = re.sub(r"\s+", " ", sql)
    kinds = (
        ("moviesite_throttlecount", "throttle"),
        ("catalog_lexemestat", "word statistics"),
        ("pg_trgm.word_similarity_threshold", "title: threshold + trigram statement"),
        ('"genre_rows"', "page films"),
        ("enable_seqscan", "keyword ranking, past the sequential share"),
        ("film.words @@", "keyword ranking"),
        ("ts_filter", "phrase check + BM25F (8+ words)"),
        ("phraseto_tsquery", "phrase check"),
        ("<=>", "semantic (HNSW)"),
        ("vote_count FROM catalog_movie WHERE id = ANY", "votes of the pool"),
        ("WORD_SIMILARITY", "title: trigram statement (pairs path)"),
        ("btrim(lower(regexp_replace", "raw quotes"),
    )
    return next((name for marker, name in kinds if marker in text), text[:60])


def capture(args: argparse.Namespace) -> None:
    application = production_application(args.database, root=Path(args.root))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    never_keep_answers()
    paths = request_paths(args.paths, "search")
    for path in paths[-10:]:  # the model, the URL conf and the connection first
        wsgi_get(application, path)
    searches = []
    for path in paths[: args.requests]:
        with CaptureQueriesContext(connection) as sent:
            status, _ = wsgi_get(application, path)
        if not status.startswith("200"):
            raise SystemExit(f"{path}: {status}")
        searches.append({"path": path, "sql": [query["sql"] for query in sent.captured_queries]})
    Path(args.out).write_text(json.dumps(searches))
    print(f"{len(searches)} searches, {sum(len(s['sql']) for s in searches) / len(searches):.2f} statements each")


def replay(args: argparse.Namespace) -> None:
    production_application(args.database, root=HERE)
    from django.db import connection

    cpu = backend_cpu()
    cursor = connection.connection.cursor()  # psycopg's own: no Django wrapper, nothing recorded

    def run(sql: str) -> None:
        cursor.execute(sql)
        while True:
            if cursor.description:
                cursor.fetchall()
            if not cursor.nextset():
                break

    files = {name: json.loads(Path(name).read_text()) for name in args.files}
    grouped: dict[str, dict[str, list[str]]] = {}
    for name, searches in files.items():
        grouped[name] = collections.defaultdict(list)
        for search in searches:
            for sql in search["sql"]:
                if not sql.startswith(SKIPPED) and "moviesite_throttlecount" not in sql:
                    grouped[name][kind(sql)].append(sql)
    kinds = sorted({k for groups in grouped.values() for k in groups})
    used: dict[str, dict[str, float]] = {name: {} for name in files}
    for name in files:  # warm: each statement once
        for statements in grouped[name].values():
            for sql in statements:
                run(sql)
    for k in kinds:
        for name in files:
            statements = grouped[name].get(k, [])
            started = cpu()
            for _ in range(args.reps):
                for sql in statements:
                    run(sql)
            used[name][k] = (cpu() - started) / args.reps
    label = {name: Path(name).stem for name in files}
    print("| statement kind | " + " | ".join(f"{label[n]}: per search, CPU ms (count, ms each)" for n in files) + " |")
    print("|---|" + "---|" * len(files))
    for k in sorted(kinds, key=lambda k: -max(used[n].get(k, 0.0) for n in files)):
        cells = []
        for name, searches in files.items():
            count = len(grouped[name].get(k, []))
            each = 1000 * used[name].get(k, 0.0) / count if count else 0.0
            cells.append(
                f"{1000 * used[name].get(k, 0.0) / len(searches):.2f} ({count / len(searches):.2f}, {each:.2f})"
            )
        print(f"| {k} | " + " | ".join(cells) + " |")
    totals = " | ".join(f"{1000 * sum(used[n].values()) / len(files[n]):.2f}" for n in files)
    print(f"| all kinds | {totals} |")
    in_order = {name: 0.0 for name in files}
    for _ in range(args.reps):
        for name, searches in files.items():
            started = cpu()
            for search in searches:
                for sql in search["sql"]:
                    run(sql)
            in_order[name] += cpu() - started
    for name, searches in files.items():
        print(f"{label[name]}: every statement in order, {1000 * in_order[name] / args.reps / len(searches):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="bench_serve_this")
    commands = parser.add_subparsers(dest="command", required=True)
    taking = commands.add_parser("capture")
    taking.add_argument("--out", required=True)
    taking.add_argument("--requests", type=int, default=400)
    taking.add_argument("--root", default=str(HERE), help="the checkout whose search sends the statements")
    taking.add_argument("--paths", default=str(HERE / "benchmarks" / ".cache" / "serve_load" / "this"))
    again = commands.add_parser("replay")
    again.add_argument("files", nargs="+")
    again.add_argument("--reps", type=int, default=4)
    args = parser.parse_args()
    if args.command == "capture":
        capture(args)
    else:
        replay(args)


if __name__ == "__main__":
    main()
