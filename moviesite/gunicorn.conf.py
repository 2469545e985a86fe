"""gunicorn's configuration for `make serve`, the Dockerfile and compose: one production server everywhere.

Every value can be overridden from the environment (or gunicorn's own command-line flags). The defaults were
chosen by measurement on 2 cores (benchmarks/serve_load.py; see benchmarks/RESULTS.md, "Serving at traffic").
"""

from __future__ import annotations

import os

# Threads, not extra processes: a process carries its own copy of the model and the catalog's matrices, while
# most of a request's time is spent waiting on Postgres with the GIL released.
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# A worker that has served this many requests is replaced, so a slow leak never takes the server down.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None

# Each worker's torch uses this many threads to encode a query. Set before any worker imports torch; with
# several worker threads encoding at once, more than one intra-op thread each only adds contention.
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("TORCH_THREADS", "1"))
# ONNX Runtime, the default query encoder, likewise: one intra-op thread. Under wrk, on a quiet machine, six
# interleaved runs of `benchmarks/serve_cpu.py gunicorn gunicorn:ONNX_THREADS=1` answered 132-148 searches/s
# with one against 131-139 with two, for 0.5 ms less CPU per search in every pair, and a single client's search
# took no longer (a ~40-word-piece query gains nothing from a second thread). Two had won in an earlier,
# loaded measure of the encoder alone (RESULTS.md, issue 16, seventh round's side-by-side).
os.environ.setdefault("ONNX_THREADS", "1")

# gunicorn's control socket has one default path per user, which a second server on the machine (a replica's
# test server, a benchmark's other side) would take over; nothing here uses it.
control_socket_disable = True
