"""The embedded PostgreSQL: started on demand, reused by concurrent processes, stopped by the last one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.db import connection

from moviesite.embedded_db import HANDLES_FILE, ensure_server

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "moviesite.db_backends.embedded",
    reason="DATABASE_URL points at an external server",
)

MANAGE = [sys.executable, str(settings.BASE_DIR / "manage.py")]


def run_manage(pgdata: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "MOVIESITE_PGDATA": str(pgdata), "DEBUG": "1"}
    env.pop("DATABASE_URL", None)
    return subprocess.run([*MANAGE, *args], env=env, capture_output=True, text=True, timeout=120, **kwargs)


def postmaster_pid(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text().split()[0])
    return pid if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE else None


def test_the_test_run_uses_the_embedded_server_with_our_extensions(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension")
        extensions = {row[0] for row in cursor.fetchall()}
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    assert {"vector", "pg_trgm", "unaccent"} <= extensions
    assert version.startswith("18.")


def test_a_second_call_in_the_same_process_reuses_the_server():
    pgdata = settings.DATABASES["default"]["PGDATA"]
    assert ensure_server(pgdata) is ensure_server(pgdata)


def test_a_command_starts_the_server_on_demand_and_stops_it_when_done(tmp_path):
    pgdata = tmp_path / "pgdata"
    result = run_manage(pgdata, "shell", "-c", "from django.db import connection; connection.ensure_connection()")
    assert result.returncode == 0, result.stderr
    assert (pgdata / "PG_VERSION").exists()
    assert postmaster_pid(pgdata) is None  # the last (only) user stopped it


def test_two_commands_share_one_server_and_the_last_one_stops_it(tmp_path):
    pgdata = tmp_path / "pgdata"
    holder_code = "from django.db import connection; connection.ensure_connection(); import time; time.sleep(6)"
    env = {**os.environ, "MOVIESITE_PGDATA": str(pgdata), "DEBUG": "1"}
    holder = subprocess.Popen([*MANAGE, "shell", "-c", holder_code], env=env)
    try:
        deadline = time.monotonic() + 60
        while postmaster_pid(pgdata) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        first_pid = postmaster_pid(pgdata)
        assert first_pid is not None
        result = run_manage(pgdata, "shell", "-c", "from django.db import connection; connection.ensure_connection()")
        assert result.returncode == 0, result.stderr
        assert postmaster_pid(pgdata) == first_pid  # still running: the holder is still using it
    finally:
        holder.wait(timeout=60)
    assert postmaster_pid(pgdata) is None


def test_a_killed_user_does_not_keep_the_server_alive_forever(tmp_path):
    pgdata = tmp_path / "pgdata"
    env = {**os.environ, "MOVIESITE_PGDATA": str(pgdata), "DEBUG": "1"}
    code = "from django.db import connection; connection.ensure_connection(); import time; time.sleep(60)"
    victim = subprocess.Popen([*MANAGE, "shell", "-c", code], env=env)
    deadline = time.monotonic() + 60
    while postmaster_pid(pgdata) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert postmaster_pid(pgdata) is not None  # orphaned for now, with a dead handle registered
    assert victim.pid in [int(p) for p in (pgdata / HANDLES_FILE).read_text().strip("[]\n").split(",") if p]

    result = run_manage(pgdata, "shell", "-c", "from django.db import connection; connection.ensure_connection()")
    assert result.returncode == 0, result.stderr
    assert postmaster_pid(pgdata) is None  # the next command reused it, pruned the dead handle and stopped it


def test_data_survives_a_crash_and_a_stale_pidfile(tmp_path):
    pgdata = tmp_path / "pgdata"
    write = (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('CREATE TABLE kept (v int)'); c.execute('INSERT INTO kept VALUES (42)')"
    )
    assert run_manage(pgdata, "shell", "-c", write).returncode == 0
    # What a machine restart leaves behind: a postmaster.pid naming a pid that now belongs to something else.
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        lines = ["" for _ in range(8)]
        lines[0], lines[1], lines[2], lines[3], lines[7] = str(stranger.pid), str(pgdata), "1700000000", "5432", "ready"
        (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")
        read = (
            "from django.db import connection; c = connection.cursor(); "
            "c.execute('SELECT v FROM kept'); print(c.fetchone()[0])"
        )
        result = run_manage(pgdata, "shell", "-c", read)
    finally:
        stranger.kill()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("42")
