"""What one request costs the production app, in one process: CPU ms of Python and of its Postgres backend, and
statements, per request (issue 16). Less noisy than wrk on a shared machine: CPU time, not wall time.

    .venv/bin/python benchmarks/request_cost.py similar --requests 300 [--uncached] [--first-pass] [--statements]
        [--profile] [--query method=knn]

Calls moviesite.wsgi's application (DEBUG off, as gunicorn runs it: the web server's connection settings
included) with the request paths benchmarks/serve_load.py wrote for a side (benchmarks/.cache/serve_load/this,
after one run of it), on that side's database (`bench_serve_this`). Run it from another checkout (a worktree
of 7691f98 with `--paths` and `--database`) to compare. `--uncached` serves every request as if its answer
were never kept (catalog/api/answers.py); run without it twice to see a first pass (answers computed and
kept) and then a repeat. `--first-pass` (similar only; implies `--uncached`) also drops every kept similar
list before the clock starts (it writes to the database: use a copy), so each request computes its list, as
the first visit of a film's page after a change does. `--profile` counts CPU time (time.process_time, not
wall time: waiting for Postgres is not Python's cost), sorted by `PROFILE_SORT` (default cumulative; tottime
shows the hot functions themselves), the first `PROFILE_LINES` (40) lines.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import importlib
import importlib.util
import io
import os
import pstats
import random
import sys
import time
import urllib.parse
from pathlib import Path

HERE = Path.cwd()


def wsgi_get(application, path: str, *, accept: str = "application/json") -> tuple[str, bytes]:
    """GET `path` ("/route?query") from a WSGI application in this process, as a JSON client asks it (or as
    `accept` says): the status line and the body."""
    route, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": urllib.parse.unquote(route),
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_ACCEPT": accept,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status: list[str] = []
    body = b"".join(application(environ, lambda line, headers, exc_info=None: status.append(line)))
    return status[0], body


def production_application(database: str, *, root: Path, **environment: str):
    """The checkout `root`'s WSGI application as gunicorn runs it (DEBUG off, the web server's connection
    settings) on the benchmark database `database` of the embedded server, the throttles lifted; `environment`
    adds or overrides variables."""
    sys.path.insert(0, str(root))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "moviesite.settings",
            "DEBUG": "0",
            "SECRET_KEY": "benchmark-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "API_ANON_RATE": "100000000/minute",
            "SITE_SEARCH_RATE": "100000000/minute",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "MOVIESITE_DB_NAME": database,
            "MOVIESITE_PGDATA": os.environ.get("MOVIESITE_PGDATA", str(Path.cwd() / ".pgdata")),
            "MOVIESITE_ENV_FILE": "",
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
            **environment,
        }
    )
    os.environ.pop("DATABASE_URL", None)
    return importlib.import_module("moviesite.wsgi").application  # sets Django up, as gunicorn does


def never_keep_answers() -> None:
    """Serve every request as if its answer were never kept (catalog/api/answers.py): each one computed, nothing
    written. Call it after `production_application`, so that the application's own module is the one changed."""
    import catalog.api.answers

    catalog.api.answers.cacheable = lambda request: False


def request_paths(directory: str | Path, kind: str) -> list[str]:
    """benchmarks/serve_load.py's request paths of `kind` (search, similar, detail) written in `directory`, in the
    one shuffled order the per-request benchmarks share, so their first N requests are the same."""
    paths = [line for line in Path(directory, f"{kind}.txt").read_text().splitlines() if line]
    random.Random(5).shuffle(paths)
    return paths


def module_from(checkout: str | Path, relative: str, name: str):
    """Another checkout's module (e.g. "catalog/search.py") loaded beside this one's under `name`: its own
    constants and functions, this process's Django and database."""
    spec = importlib.util.spec_from_file_location(name, Path(checkout) / relative)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def backend_cpu():
    """A function giving the CPU seconds used so far by this process's database backend (psutil: 10 ms ticks)."""
    import psutil
    from django.db import connection

    connection.ensure_connection()
    backend = psutil.Process(connection.connection.info.backend_pid)

    def used() -> float:
        times = backend.cpu_times()
        return times.user + times.system

    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("search", "similar", "detail"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database", default="bench_serve_this")
    parser.add_argument("--paths", default=str(HERE / "benchmarks" / ".cache" / "serve_load" / "this"))
    parser.add_argument("--uncached", action="store_true", help="never serve or keep a kept answer")
    parser.add_argument("--first-pass", action="store_true", help="similar: drop the kept lists first (writes)")
    parser.add_argument("--query", default="", help="appended to each request's query string, e.g. method=knn")
    parser.add_argument("--statements", action="store_true", help="count statements (adds a little CPU)")
    parser.add_argument("--profile", action="store_true", help="cProfile the requests; the top 40 by cumulative")
    args = parser.parse_args()

    application = production_application(args.database, root=HERE)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if args.uncached or args.first_pass:
        never_keep_answers()

    paths = request_paths(args.paths, args.kind)
    if args.query:
        paths = [f"{path}{'&' if '?' in path else '?'}{args.query}" for path in paths]

    def call(path: str) -> None:
        status, body = wsgi_get(application, path)
        if not status.startswith("200"):
            raise SystemExit(f"{path}: {status} {body[:300]!r}")

    for path in paths[-10:]:  # the model, the URL conf and the connection, before the clock starts
        call(path)
    if args.first_pass:
        from recommender.models import SimilarList

        SimilarList.objects.all().delete()
    database = backend_cpu()
    todo = paths[: args.requests]
    counting = CaptureQueriesContext(connection) if args.statements else contextlib.nullcontext()
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    before = database()
    started_cpu, started = time.process_time(), time.perf_counter()
    with counting:
        if profiler:
            profiler.enable()
        for path in todo:
            call(path)
        if profiler:
            profiler.disable()
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    database_cpu = database() - before
    n = len(todo)
    line = f"{args.kind}: {n} requests, python cpu {1000 * cpu / n:.2f} ms/req, postgres backend cpu "
    line += f"{1000 * database_cpu / n:.2f} ms/req, wall {1000 * wall / n:.2f} ms/req"
    if args.statements:
        line += f", statements {len(counting.captured_queries) / n:.1f}/req"
    print(line)
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "cumulative"))
        stats.print_stats(int(os.environ.get("PROFILE_LINES", "40")))
        print(out.getvalue())


if __name__ == "__main__":
    main()
