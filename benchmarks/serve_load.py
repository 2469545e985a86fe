"""Throughput under load with a real load generator: wrk against the production server, side by side.

    .venv/bin/python benchmarks/serve_load.py [--against 7691f98] [--seconds 20] [--connections 50]

Serves the TMDB 5000 catalog (tmdb_5000_movies.csv from ../shared/datasets, imported by each side's own
importer into its own database on the embedded server) with each side's production server in turn: this
checkout through moviesite/gunicorn.conf.py (what `make serve` runs), the other commit as its Dockerfile ran
gunicorn (2 workers x 4 threads). DEBUG off, the anonymous throttle lifted (the test is about the server).
For each kind of request, the same `wrk -t2 -cN -dS --latency` command, with benchmarks/wrk_paths.lua handing
every connection its own stretch of a file of paths, so nothing repeats within a run:

- search: hybrid `/api/search/`, one query each: a title with one seeded typo (all 4,803 TMDB titles), an
  IMDB-Movie-Data description, or a TMDB tagline (about 9,700 distinct queries in all);
- similar: `/api/movies/{id}/similar/` of films in a seeded random order (default method);
- detail: `/api/movies/{id}/`, the same order.

wrk runs on the same 2 cores as the server. Any non-2xx answer or socket error is reported. A second table
gives each side's CPU per request, from /proc: its server's processes (all threads) and its database's
backends, nothing else on the machine (benchmarks/serve_cpu.py splits it further).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
TMDB = DATASETS / "tmdb-5000" / "tmdb_5000_movies.csv.gz"
IMDB_DATA = DATASETS / "imdb-movie-data" / "IMDB-Movie-Data.csv.gz"
CACHE = ROOT / "benchmarks" / ".cache" / "serve_load"
LUA = ROOT / "benchmarks" / "wrk_paths.lua"
KINDS = ("search", "similar", "detail")


@dataclass(frozen=True)
class Side:
    name: str
    checkout: Path
    database: str
    port: int


def typo(title: str, rng: random.Random) -> str:
    """One edit a hurried typist makes: a letter dropped, doubled, swapped with its neighbour or replaced."""
    letters = [i for i, char in enumerate(title) if char.isalpha()]
    if len(letters) < 4:
        return title
    i = rng.choice(letters[1:-1])
    edit = rng.choice(("drop", "double", "swap", "replace"))
    if edit == "drop":
        return title[:i] + title[i + 1 :]
    if edit == "double":
        return title[:i] + title[i] + title[i:]
    if edit == "swap":
        return title[:i] + title[i + 1] + title[i] + title[i + 2 :]
    return title[:i] + rng.choice("aeiourstnl") + title[i + 1 :]


def search_queries(seed: int = 7) -> list[str]:
    """Thousands of distinct queries: typo'd titles, described plots (not IMDB Top 1000's) and taglines."""
    rng = random.Random(seed)
    tmdb = pd.read_csv(TMDB)
    imdb = pd.read_csv(IMDB_DATA)
    queries = [typo(title, rng) for title in tmdb["title"].dropna()]
    queries += imdb["Description"].dropna().str.slice(0, 1000).tolist()
    queries += tmdb["tagline"].dropna().tolist()
    unique = list(dict.fromkeys(q.strip() for q in queries if q.strip()))
    rng.shuffle(unique)
    return unique


def manage(side: Side, *args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    base = {
        **os.environ,
        "DEBUG": "1",
        "MOVIESITE_DB_NAME": side.database,
        "MOVIESITE_PGDATA": str(ROOT / ".pgdata"),
        "MOVIESITE_ENV_FILE": "",
        "HF_HUB_OFFLINE": "1",
    }
    base.pop("DATABASE_URL", None)
    command = [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args]
    return subprocess.run(command, cwd=side.checkout, env={**base, **(env or {})}, check=True, text=True, **kwargs)


def checkout_of(commit: str) -> Path:
    """A detached worktree of ``commit`` beside the cache, sharing this checkout's virtualenv."""
    path = CACHE / f"at-{commit}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=ROOT, check=True)
        (path / ".venv").symlink_to(ROOT / ".venv")
    return path


def prepare(side: Side, *, reimport: bool = True) -> dict[int, int]:
    """Migrate and import the TMDB catalog with the side's own code; return its film ids by TMDB id."""
    manage(side, "migrate", "--no-input", "-v", "0")
    if reimport:
        manage(side, "import_movies", str(TMDB), stdout=subprocess.DEVNULL)
    script = (
        "import json; from catalog.models import Movie; "
        "print(json.dumps(dict(Movie.objects.filter(hidden=False, tmdb_id__isnull=False)"
        ".values_list('tmdb_id', 'pk'))))"
    )
    out = manage(side, "shell", "-c", script, capture_output=True).stdout.strip().splitlines()[-1]
    return {int(tmdb_id): pk for tmdb_id, pk in json.loads(out).items()}


def write_paths(side: Side, ids_by_tmdb: dict[int, int], queries: list[str], tmdb_order: list[int]) -> dict:
    folder = CACHE / side.name
    folder.mkdir(parents=True, exist_ok=True)
    films = [ids_by_tmdb[t] for t in tmdb_order if t in ids_by_tmdb]
    paths = {
        "search": [f"/api/search/?{urllib.parse.urlencode({'q': q, 'mode': 'hybrid'})}" for q in queries],
        "similar": [f"/api/movies/{pk}/similar/" for pk in films],
        "detail": [f"/api/movies/{pk}/" for pk in films],
    }
    files = {}
    for kind, lines in paths.items():
        files[kind] = folder / f"{kind}.txt"
        files[kind].write_text("\n".join(lines) + "\n")
    return files


def start_server(side: Side) -> subprocess.Popen:
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "API_ANON_RATE": "100000000/minute",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "PORT": str(side.port),
        "WEB_ACCESS_LOG": "",
    }
    manage(side, "collectstatic", "--no-input", "-v", "0", env=env)
    gunicorn = [str(ROOT / ".venv" / "bin" / "gunicorn")]
    if (side.checkout / "moviesite" / "gunicorn.conf.py").exists():
        command = [*gunicorn, "-c", "moviesite/gunicorn.conf.py", "moviesite.wsgi"]
    else:  # the commit's Dockerfile command
        command = [*gunicorn, "moviesite.wsgi", "--bind", f"127.0.0.1:{side.port}", "--workers", "2"]
        command += ["--threads", "4", "--timeout", "60"]
    full_env = {
        **os.environ,
        "MOVIESITE_DB_NAME": side.database,
        "MOVIESITE_PGDATA": str(ROOT / ".pgdata"),
        "MOVIESITE_ENV_FILE": "",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    full_env.pop("DATABASE_URL", None)
    server = subprocess.Popen(command, cwd=side.checkout, env=full_env, stdout=subprocess.DEVNULL)
    return healthy(server, side.port, side.name)


def healthy(server: subprocess.Popen, port: int, name: str) -> subprocess.Popen:
    """`server` once it answers /healthz on `port` (two minutes at most; else it is stopped and the run ends)."""
    for _ in range(240):
        time.sleep(0.5)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            continue
    server.terminate()
    raise SystemExit(f"{name}: the server did not become healthy")


def warm_up(side: Side, files: dict[str, Path]) -> None:
    """Both workers load the model and the catalog's matrices before the clock starts (paths not measured)."""
    for path in files.values():
        lines = path.read_text().splitlines()
        for line in lines[-8:]:
            with urllib.request.urlopen(f"http://127.0.0.1:{side.port}{line}", timeout=120) as response:
                response.read()


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """CPU seconds (user + system, all threads) of each process and of its children, by pid."""
    seconds = {}
    for process in processes:
        try:
            family = [process, *process.children(recursive=True)]
        except psutil.Error:
            continue
        for member in family:
            try:
                times = member.cpu_times()
            except psutil.Error:
                continue
            seconds[member.pid] = times.user + times.system
    return seconds


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings of cpu_seconds; a process started in between counts from zero."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def database_backends(pgdata: Path, database: str) -> list[psutil.Process]:
    """The client backends of the embedded server in `pgdata` connected to `database` (its background
    processes and other databases' clients left out)."""
    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().split()[0]))
    backends = []
    for child in postmaster.children():
        try:
            if database in " ".join(child.cmdline()):
                backends.append(child)
        except psutil.Error:
            continue
    return backends


def wrk(side: Side, paths: Path, *, seconds: int, connections: int, server: subprocess.Popen | None = None) -> dict:
    """wrk's figures against `side` (see `run_wrk`)."""
    return run_wrk(side.port, paths, seconds=seconds, connections=connections, server=server, database=side.database)


def run_wrk(
    port: int,
    paths: Path,
    *,
    seconds: int,
    connections: int,
    server: subprocess.Popen | None = None,
    database: str = "",
    pgdata: Path = ROOT / ".pgdata",
) -> dict:
    """wrk's figures for the server on `port`, each connection on its own stretch of `paths` (wrk_paths.lua);
    with `server`, also the CPU per request of its processes and of `database`'s backends in the embedded server
    of `pgdata` while wrk ran (ms; from /proc, so no other process on the machine counts)."""
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    command += ["-s", str(LUA), f"http://127.0.0.1:{port}", "--", str(paths), str(threads)]
    watched = [psutil.Process(server.pid)] if server else []
    server_before = cpu_seconds(watched)
    database_before = cpu_seconds(database_backends(pgdata, database)) if server else {}
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    server_after = cpu_seconds(watched)
    database_after = cpu_seconds(database_backends(pgdata, database)) if server else {}
    line = next(line for line in out.splitlines() if line.startswith("JSON "))
    result = json.loads(line.removeprefix("JSON "))
    if server and result["requests"]:
        result["server_cpu_ms"] = 1000 * cpu_used(server_before, server_after) / result["requests"]
        result["postgres_cpu_ms"] = 1000 * cpu_used(database_before, database_after) / result["requests"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", default="7691f98", help="the commit to compare with ('' for none)")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument(
        "--warm",
        action="store_true",
        help="Before serving, run this checkout's `warm_similar` for the default method (steady state: every "
        "film's list kept); without it every similar request of the run computes its list.",
    )
    parser.add_argument(
        "--keep-answers",
        action="store_true",
        help="With --warm: also run this checkout's `keep_answers` (every film's default similar-films API "
        "answer kept, as a site has them once each was asked for once); similar requests are then all served "
        "from kept answers.",
    )
    parser.add_argument(
        "--no-import",
        action="store_true",
        help="Use the catalogs already in the benchmark databases as they are (no import_movies run).",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk (as root)")

    queries = search_queries()
    tmdb_order = pd.read_csv(TMDB)["id"].sample(frac=1.0, random_state=11).tolist()
    sides = [Side("this", ROOT, "bench_serve_this", 8601)]
    if args.against:
        sides.append(Side(args.against, checkout_of(args.against), f"bench_serve_{args.against}", 8602))

    results: dict[str, dict[str, dict]] = {}
    for side in sides:
        files = write_paths(side, prepare(side, reimport=not args.no_import), queries, tmdb_order)
        if args.warm and side.checkout == ROOT:
            manage(side, "warm_similar", "--method", "blend", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if args.keep_answers:
                manage(side, "keep_answers", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = start_server(side)
        try:
            warm_up(side, files)
            for kind in args.kinds.split(","):
                result = wrk(side, files[kind], seconds=args.seconds, connections=args.connections, server=server)
                results.setdefault(kind, {})[side.name] = result
                print(f"{side.name:>8} {kind:>8}: {json.dumps(result)}", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(timeout=60)

    print(f"\n{len(queries):,} distinct search queries; wrk -t2 -c{args.connections} -d{args.seconds}s\n")
    names = [side.name for side in sides]
    header = "| request | " + " | ".join(f"{n}: req/s, p50 / p99 ms, errors" for n in names)
    print(header + (" | ratio |" if len(names) == 2 else " |"))
    print("|---" * (len(names) + 1 + (len(names) == 2)) + "|")
    for kind, by_side in results.items():
        cells = []
        for name in names:
            r = by_side[name]
            errors = r["non2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
            cells.append(f"{r['rps']:.1f}, {r['p50_ms']:.0f} / {r['p99_ms']:.0f}, {errors}")
        ratio = f" {by_side[names[0]]['rps'] / by_side[names[1]]['rps']:.2f}x |" if len(names) == 2 else ""
        print(f"| {kind} | " + " | ".join(cells) + " |" + ratio)

    # CPU per request, read from /proc for each side's server processes and its database's backends only (wrk,
    # other servers and other databases on the machine left out): less noisy than req/s on a shared machine.
    print("\n| request | " + " | ".join(f"{n}: server CPU / Postgres CPU, ms per request" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for kind, by_side in results.items():
        cpu = [(by_side[n].get("server_cpu_ms", 0.0), by_side[n].get("postgres_cpu_ms", 0.0)) for n in names]
        cells = [f"{server:.2f} / {database:.2f}" for server, database in cpu]
        print(f"| {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
