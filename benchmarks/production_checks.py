"""Issue 17's checks under gunicorn in production mode (DEBUG off), on the embedded database in .pgdata/:

1. 1,300 API requests from rotating X-Forwarded-For values, 8 at a time, started at the top of a minute: how
   many pass (API_ANON_RATE, 600/minute by default, shared by both workers) and how many get 429;
2. the embedded postgres killed (-9) under the running server: what /api/search/ answers until it is back,
   without restarting gunicorn;
3. gunicorn stopped with SIGTERM: whether the database it restarted stops with it.

    .venv/bin/python benchmarks/production_checks.py      (after `make run` has loaded the demo catalog)
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 8617
PIDFILE = Path(os.environ.get("MOVIESITE_PGDATA", ROOT / ".pgdata")) / "postmaster.pid"


def get(path: str, forwarded_for: str | None = None) -> tuple[int, bytes]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        return 0, str(error).encode()


def main() -> None:
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-" + "x" * 50),
        "SECURE_SSL_REDIRECT": "0",
        "EMBEDDING_BACKEND": "fake",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-w", "2", "-b", f"127.0.0.1:{PORT}", "moviesite.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(240):
            if get("/api/genres/")[0] == 200:
                break
            time.sleep(0.5)
        while time.time() % 60 > 3 or time.time() % 60 < 0.5:  # one throttle window for the whole burst
            time.sleep(0.2)
        started = time.time()
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda n: get("/api/genres/", f"10.{n % 250}.{n // 250}.1")[0], range(1300)))
        counts = {status: statuses.count(status) for status in sorted(set(statuses))}
        print(f"1. 1,300 rotating-X-Forwarded-For requests in {time.time() - started:.1f} s: {counts}")
        print(f"   (plus 1 start-up check before them; first 429 at request #{statuses.index(429) + 1})")

        victim = int(PIDFILE.read_text().split()[0])
        os.kill(victim, signal.SIGKILL)
        killed = time.time()
        answers = []
        while time.time() - killed < 60:
            status, body = get("/api/search/?q=godfather&mode=keyword", "192.0.2.1")
            answers.append((round(time.time() - killed, 1), status, body[:90].decode(errors="replace")))
            if status == 200:
                break
            time.sleep(0.5)
        print(f"2. postgres (pid {victim}) killed -9 under gunicorn; /api/search/ answered:")
        for answer in answers:
            print(f"   {answer}")
        now = int(PIDFILE.read_text().split()[0])
        print(f"   now postgres pid {now}; gunicorn still running: {server.poll() is None}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    for _ in range(60):
        if not PIDFILE.exists():
            break
        time.sleep(0.5)
    print(f"3. gunicorn stopped by SIGTERM; postgres stopped with it: {not PIDFILE.exists()}")


if __name__ == "__main__":
    main()
