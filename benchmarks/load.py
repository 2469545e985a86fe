"""50 concurrent clients for 60 s on the search and similar endpoints, through gunicorn: errors and latency.

    .venv/bin/python benchmarks/load.py [--database moviesite_35k] [--clients 50] [--seconds 60] [--workers 4]

Starts gunicorn (moviesite.wsgi, as docker compose does) on the chosen database with the anonymous throttle
lifted (the test is about the server, not the rate limit), then each client loops over a mix of requests:
hybrid, keyword and semantic searches, and similar films by knn, svm and tfidf for random films. Any answer
other than 200, and any connection error, counts as an error.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [
    "godfather", "godfater", "a shark terrorizes a beach town", "tom hanks", "nolan", "space opera",
    "interstelar", "samurai", "heist gone wrong", "love story in paris",
]  # fmt: skip


def film_ids(database: str) -> list[int]:
    env = {**os.environ, "MOVIESITE_DB_NAME": database, "DEBUG": "1"}
    script = (
        "from catalog.models import Movie;"
        "print(*Movie.objects.visible().filter(embedding__isnull=False).values_list('pk', flat=True)[:5000])"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return [int(pk) for pk in out.stdout.strip().splitlines()[-1].split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="moviesite_35k")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    ids = film_ids(args.database)
    env = {
        **os.environ,
        "MOVIESITE_DB_NAME": args.database,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_ANON_RATE": "1000000/minute",
        "HF_HUB_OFFLINE": "1",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback; production sits behind TLS
    }
    command = [sys.executable, "-m", "gunicorn", "moviesite.wsgi", "--bind", f"127.0.0.1:{args.port}"]
    command += ["--workers", str(args.workers), "--timeout", "120"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(120):  # wait for the workers
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        # One untimed pass per worker-ish: loads the model and the vectors in each worker.
        for _ in range(args.workers * 2):
            urllib.request.urlopen(f"{base}/api/search/?q=warm&mode=semantic", timeout=120).read()
            urllib.request.urlopen(f"{base}/api/movies/{ids[0]}/similar/?method=svm", timeout=120).read()

        samples: dict[str, list[float]] = defaultdict(list)
        errors: Counter[str] = Counter()
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds

        def client(seed: int) -> None:
            rng = random.Random(seed)
            while time.monotonic() < deadline:
                if rng.random() < 0.5:
                    mode = rng.choice(["hybrid", "hybrid", "keyword", "semantic"])
                    kind = f"search {mode}"
                    query = urllib.request.quote(rng.choice(QUERIES))
                    url = f"{base}/api/search/?q={query}&mode={mode}"
                else:
                    method = rng.choice(["knn", "knn", "svm", "tfidf"])
                    kind = f"similar {method}"
                    url = f"{base}/api/movies/{rng.choice(ids)}/similar/?method={method}"
                started = time.perf_counter()
                try:
                    with urllib.request.urlopen(url, timeout=60) as response:
                        response.read()
                        ok = response.status == 200
                        reason = str(response.status)
                except urllib.error.HTTPError as exc:
                    ok, reason = False, str(exc.code)
                except Exception as exc:  # every failure counts, whatever it is
                    ok, reason = False, type(exc).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    samples[kind].append(elapsed)
                    if not ok:
                        errors[f"{kind}: {reason}"] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(timeout=30)

    total = sum(len(s) for s in samples.values())
    print(f"{args.clients} clients, {args.seconds} s, gunicorn with {args.workers} workers, {args.database}")
    print(f"{total} requests ({total / args.seconds:.0f}/s), {sum(errors.values())} errors {dict(errors)}\n")
    print("| request | count | p50 | p99 |")
    print("| --- | --- | --- | --- |")
    for kind in sorted(samples):
        ordered = sorted(samples[kind])
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
        print(f"| {kind} | {len(ordered)} | {statistics.median(ordered) * 1000:.0f} ms | {p99 * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
