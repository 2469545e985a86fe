"""Where a served request's CPU goes: CPU ms per request of the server's processes and of Postgres, under wrk.

    .venv/bin/python benchmarks/serve_cpu.py gunicorn wsgi:1x1 wsgi:2x4 [granian] [gunicorn:WEB_THREADS=2]
        [--kind search] [--rounds 3] [--seconds 15] [--connections 50] [--py-spy]

Runs this checkout's app on the `bench_serve_this` catalog of this checkout's embedded server (a copy: it
empties the kept answers and the throttle counts before each run, as serve_load.py's `migrate` does) with
the request paths benchmarks/serve_load.py wrote (benchmarks/.cache/serve_load/this/KIND.txt), in turn for
each variant, `--rounds` times, interleaved, so that the machine's other load falls on every variant alike:

- `gunicorn`: the production server, moviesite/gunicorn.conf.py as `make serve` runs it, driven by the same
  `wrk -t2 -cN` command as serve_load.py;
- `granian`: granian's WSGI server (2 workers x 4 blocking threads, if it is installed: not a requirement);
- `wsgi:PxT`: no HTTP at all: the WSGI application called in P processes x T threads of this script
  (benchmarks/request_cost.py's `wsgi_get`), each thread on its own share of the paths. `wsgi:1x1` is what
  request_cost.py measures; `wsgi:2x4` has gunicorn's concurrency without its HTTP handling.

`VARIANT:NAME=VALUE+NAME=VALUE` adds environment variables to a variant's server (WEB_THREADS, ONNX_THREADS...).
CPU is counted from /proc for the variant's own processes (server master, workers and their threads) and
for the client backends of the embedded Postgres (background processes left out), between the start and the
end of the load, and divided by the requests answered. Every request must answer 200 (wrk's count of others
is reported). `--py-spy` samples each gunicorn/granian worker with py-spy (`--gil`: the thread holding the
GIL, i.e. Python's own CPU) and prints where those samples were, by part of the request.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from serve_load import CACHE, cpu_seconds, cpu_used, database_backends, healthy, run_wrk  # noqa: E402

DATABASE = "bench_serve_this"
PGDATA = ROOT / ".pgdata"
PORT = 8611
BIN = ROOT / ".venv" / "bin"
SERVER_ENV = {
    "DEBUG": "0",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "API_ANON_RATE": "100000000/minute",
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_COOKIES": "0",
    "WEB_ACCESS_LOG": "",
    "MOVIESITE_DB_NAME": DATABASE,
    "MOVIESITE_PGDATA": str(PGDATA),
    "MOVIESITE_ENV_FILE": "",
    "HF_HUB_OFFLINE": "1",
}
# Where a GIL sample is, by the first of these frames its stack holds (innermost part first).
PARTS = [
    ("search (catalog/search.py, querysets)", ("catalog/search.py", "catalog/querysets.py")),
    ("kept answers: lookup and store", ("_lookup (catalog/api/answers", "_store (catalog/api/answers")),
    ("rendering JSON", ("JSONRenderer.render",)),
    ("serializing results", ("catalog/api/serializers.py",)),
    ("parameters (DRF serializer)", ("_params (catalog/api/views",)),
    ("throttle", ("throttling.py",)),
    ("rest of the DRF view", ("APIView.dispatch",)),
    ("Django handler and middleware", ("WSGIHandler.__call__",)),
    ("HTTP server (parse, respond, accept, poll)", ("",)),
]


@dataclass
class Variant:
    spec: str
    kind: str
    environment: dict[str, str] = field(default_factory=dict)
    processes: int = 1
    threads: int = 1

    @classmethod
    def parse(cls, spec: str) -> Variant:
        head, _, assignments = spec.partition(":")
        environment = dict(item.split("=", 1) for item in assignments.split("+") if "=" in item)
        if head == "wsgi":
            shape = assignments if "x" in assignments and "=" not in assignments else "1x1"
            processes, threads = (int(n) for n in shape.split("x"))
            return cls(spec, "wsgi", {}, processes, threads)
        if head not in ("gunicorn", "granian"):
            raise SystemExit(f"unknown variant {spec!r}: gunicorn, granian or wsgi:PxT")
        return cls(spec, head, environment)


def reset_database() -> None:
    """No kept answer and no throttle count left from the previous run: every variant starts alike."""
    import psycopg

    from moviesite.embedded_db import ensure_server

    address = ensure_server(PGDATA)
    with psycopg.connect(host=address.host, port=address.port, user="postgres", dbname=DATABASE) as conn:
        conn.execute("TRUNCATE moviesite_cachedanswer, moviesite_throttlecount")


def start_server(variant: Variant) -> subprocess.Popen:
    environment = {**os.environ, **SERVER_ENV, "SECRET_KEY": secrets.token_urlsafe(50), "PORT": str(PORT)}
    environment.pop("DATABASE_URL", None)
    environment.update(variant.environment)
    if variant.kind == "gunicorn":
        command = [str(BIN / "gunicorn"), "-c", "moviesite/gunicorn.conf.py", "moviesite.wsgi"]
    else:  # granian, with what gunicorn.conf.py sets for the encoders
        environment.setdefault("OMP_NUM_THREADS", "1")
        environment.setdefault("ONNX_THREADS", "1")
        command = [str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(PORT)]
        command += ["--workers", environment.get("WEB_WORKERS", "2")]
        command += ["--blocking-threads", environment.get("WEB_THREADS", "4"), "--no-ws", "--log-level", "warning"]
        command += ["moviesite.wsgi:application"]
    server = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return healthy(server, PORT, variant.spec)


def get(path: str) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()


def served(variant: Variant, paths: Path, *, seconds: int, connections: int, py_spy: bool) -> dict:
    """One run of wrk against the variant's server: requests, latency and CPU per request."""
    server = start_server(variant)
    try:
        for line in paths.read_text().splitlines()[-16:]:  # both workers load the model and the matrices
            get(line)
        process = psutil.Process(server.pid)
        spies = []
        if py_spy:
            for index, worker in enumerate(process.children(recursive=True)):
                out = CACHE / "py-spy" / f"{variant.kind}-{index}.txt"
                out.parent.mkdir(parents=True, exist_ok=True)
                command = [str(BIN / "py-spy"), "record", "--pid", str(worker.pid), "--gil", "--rate", "100"]
                command += ["--duration", str(max(1, seconds - 2)), "--format", "raw", "--nonblocking", "-o", str(out)]
                spies.append((subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
        load = os.getloadavg()[0]
        result = run_wrk(
            PORT, paths, seconds=seconds, connections=connections, server=server, database=DATABASE, pgdata=PGDATA
        )
        for spy, _ in spies:
            spy.wait()
        errors = sum(result[key] for key in ("non2xx", "connect", "read", "write", "timeout"))
        n = result["requests"]
        figures = {
            "rps": result["rps"],
            "server_ms": result["server_cpu_ms"],
            "postgres_ms": result["postgres_cpu_ms"],
            "p50_ms": result["p50_ms"],
            "p99_ms": result["p99_ms"],
            "errors": errors,
            "load": load,
            "requests": n,
        }
        if spies:
            figures["gil"], samples = gil_parts([out for _, out in spies])
            # py-spy sampled 100 times a second for all but the last 2 s of the load.
            figures["gil_ms"] = 1000 * samples / 100 / (n * max(1, seconds - 2) / seconds)
        return figures
    finally:
        server.terminate()
        server.wait(timeout=60)


def gil_parts(files: list[Path]) -> tuple[dict[str, float], int]:
    """The share of GIL samples in each part of PARTS (a stack counts for the first part it holds a frame of),
    and the number of samples."""
    counts: collections.Counter[str] = collections.Counter()
    for file in files:
        for line in file.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if not stack:
                continue
            part = next(name for name, frames in PARTS if any(frame in stack for frame in frames))
            counts[part] += int(n)
    total = sum(counts.values())
    return {name: round(counts[name] / max(1, total), 3) for name, _ in PARTS}, total


def _wsgi_worker(index: int, variant: Variant, lines: list[str], ready, start, stop, finish, counts) -> None:
    """One process of a `wsgi:PxT` variant: T threads, each calling the app on its own share of the paths."""
    os.chdir(ROOT)
    from request_cost import production_application, wsgi_get

    application = production_application(DATABASE, root=ROOT, ONNX_THREADS="2", MOVIESITE_PGDATA=str(PGDATA))
    slots = variant.processes * variant.threads
    warmed = threading.Barrier(variant.threads + 1)
    answered: list[int] = []

    def serve(slot: int) -> None:
        mine = lines[slot::slots]
        for path in lines[-16:][slot % 16 :: 16] or lines[-1:]:  # this thread's connection and the model
            wsgi_get(application, path)
        warmed.wait()
        start.wait()
        done = 0
        while not stop.is_set():
            status, body = wsgi_get(application, mine[done % len(mine)])
            if not status.startswith("200"):
                raise SystemExit(f"{mine[done % len(mine)]}: {status} {body[:200]!r}")
            done += 1
        answered.append(done)
        finish.wait()  # the connection (and its backend's CPU figures) lives until the parent has read them

    threads = [threading.Thread(target=serve, args=(index * variant.threads + t,)) for t in range(variant.threads)]
    for thread in threads:
        thread.start()
    warmed.wait()
    ready.put(os.getpid())
    stop.wait()
    while len(answered) < variant.threads:
        time.sleep(0.01)
    counts.put(sum(answered))
    for thread in threads:
        thread.join()


def in_process(variant: Variant, paths: Path, *, seconds: int) -> dict:
    """The app called in P processes x T threads for `seconds`: requests per second and CPU per request."""
    context = multiprocessing.get_context("spawn")
    ready, counts = context.Queue(), context.Queue()
    start, stop, finish = context.Event(), context.Event(), context.Event()
    lines = [line for line in paths.read_text().splitlines() if line]
    workers = [
        context.Process(target=_wsgi_worker, args=(i, variant, lines, ready, start, stop, finish, counts))
        for i in range(variant.processes)
    ]
    for worker in workers:
        worker.start()
    processes = [psutil.Process(ready.get(timeout=600)) for _ in workers]
    load = os.getloadavg()[0]
    own_before, database_before = cpu_seconds(processes), cpu_seconds(database_backends(PGDATA, DATABASE))
    started = time.perf_counter()
    start.set()
    time.sleep(seconds)
    stop.set()
    n = sum(counts.get(timeout=120) for _ in workers)
    elapsed = time.perf_counter() - started
    own_after, database_after = cpu_seconds(processes), cpu_seconds(database_backends(PGDATA, DATABASE))
    finish.set()
    for worker in workers:
        worker.join(timeout=60)
    return {
        "rps": n / elapsed,
        "server_ms": 1000 * cpu_used(own_before, own_after) / n,
        "postgres_ms": 1000 * cpu_used(database_before, database_after) / n,
        "errors": 0,
        "load": load,
        "requests": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", help="gunicorn, granian or wsgi:PxT, each optionally :NAME=VALUE+...")
    parser.add_argument("--kind", default="search", choices=("search", "similar", "detail"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--py-spy", action="store_true", help="sample the servers' workers (slows them down)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moviesite.settings")
    sys.path.insert(0, str(ROOT))
    paths = CACHE / "this" / f"{args.kind}.txt"
    if not paths.exists():
        raise SystemExit(f"{paths} is missing: run benchmarks/serve_load.py once (it writes the paths)")
    variants = [Variant.parse(spec) for spec in args.variants]
    results: dict[str, list[dict]] = collections.defaultdict(list)
    for round_ in range(args.rounds):
        for variant in variants:
            reset_database()
            if variant.kind == "wsgi":
                figures = in_process(variant, paths, seconds=args.seconds)
            else:
                figures = served(variant, paths, seconds=args.seconds, connections=args.connections, py_spy=args.py_spy)
            results[variant.spec].append(figures)
            shown = {key: round(value, 2) if isinstance(value, float) else value for key, value in figures.items()}
            print(json.dumps({"round": round_, "variant": variant.spec, **shown}), file=sys.stderr, flush=True)

    print(f"\n{args.kind}, {args.rounds} rounds of {args.seconds} s, interleaved; wrk -c{args.connections}\n")
    print("| variant | req/s | server CPU ms/req | Postgres CPU ms/req | p50 / p99 ms | errors | load (1 min) |")
    print("|---|---|---|---|---|---|---|")
    for spec, runs in results.items():

        def column(key: str, digits: int = 1, runs: list[dict] = runs) -> str:
            return ", ".join(f"{run[key]:.{digits}f}" for run in runs if key in run)

        latency = ", ".join(f"{run['p50_ms']:.0f} / {run['p99_ms']:.0f}" for run in runs if "p50_ms" in run) or "-"
        errors = sum(run["errors"] for run in runs)
        print(
            f"| {spec} | {column('rps')} | {column('server_ms', 2)} | {column('postgres_ms', 2)} | {latency} "
            f"| {errors} | {column('load')} |"
        )
    for spec, runs in results.items():
        shares = [run["gil"] for run in runs if "gil" in run]
        if shares:
            held = ", ".join(f"{run['gil_ms']:.1f}" for run in runs if "gil_ms" in run)
            print(f"\nWhere {spec}'s workers held the GIL (py-spy --gil; {held} ms per request; share by round):")
            for name, _ in PARTS:
                print(f"- {name}: " + ", ".join(f"{share[name]:.1%}" for share in shares))


if __name__ == "__main__":
    main()
