"""The README's promise: after `make install`, `python manage.py ...` works in the checkout with nothing exported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from moviesite.envfile import write_env_file

BASE_DIR = Path(settings.BASE_DIR)
MANAGE = [sys.executable, str(BASE_DIR / "manage.py")]
LONG_KEY = "k" * 60


def run_manage(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    """Run manage.py as a user's shell would: only the variables given, nothing inherited from pytest."""
    return subprocess.run([*MANAGE, *args], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=timeout)


def bare_environment(**variables: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], **variables}


def test_make_install_writes_a_local_env_file_once(tmp_path):
    env_file = tmp_path / ".env"

    assert write_env_file(env_file) is True
    first = env_file.read_text()
    assert write_env_file(env_file) is False

    assert env_file.read_text() == first
    values = dict(line.split("=", 1) for line in first.splitlines() if line and not line.startswith("#"))
    assert values["DEBUG"] == "1"
    assert len(values["SECRET_KEY"]) >= settings.MIN_SECRET_KEY_LENGTH


def test_each_env_file_gets_its_own_secret_key(tmp_path):
    write_env_file(tmp_path / "a.env")
    write_env_file(tmp_path / "b.env")

    assert (tmp_path / "a.env").read_text() != (tmp_path / "b.env").read_text()


def test_manage_py_commands_work_in_the_checkout_with_nothing_exported(tmp_path):
    assert (BASE_DIR / ".env").is_file(), "`make install` writes .env; run it (or `make test`) first"
    env = bare_environment(MOVIESITE_PGDATA=str(tmp_path / "pgdata"))

    check = run_manage("check", env=env)
    assert check.returncode == 0, check.stderr
    assert "no issues" in check.stdout

    migrate = run_manage("migrate", "--no-input", env=env)
    assert migrate.returncode == 0, migrate.stderr

    imported = run_manage("import_movies", "fixtures/demo_movies.csv", "--limit", "25", env=env)
    assert imported.returncode == 0, imported.stderr
    assert "25 created" in imported.stdout + imported.stderr


def test_with_debug_off_a_missing_or_short_secret_key_refuses_to_start():
    for secret_key in ("", "short-key"):
        env = bare_environment(DEBUG="0", SECRET_KEY=secret_key, MOVIESITE_ENV_FILE="")

        result = run_manage("check", env=env, timeout=120)

        assert result.returncode != 0
        assert "Set SECRET_KEY to a random string of at least 50 characters" in result.stderr


def test_an_exported_variable_wins_over_the_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"DEBUG=1\nSECRET_KEY={LONG_KEY}\nLOG_LEVEL=ERROR\n")
    code = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY == 'k' * 60)"

    show = ["shell", "--no-imports", "-c", code]

    from_file = run_manage(*show, env=bare_environment(MOVIESITE_ENV_FILE=str(env_file)), timeout=120)
    exported = run_manage(*show, env=bare_environment(MOVIESITE_ENV_FILE=str(env_file), DEBUG="0"), timeout=120)

    assert from_file.stdout.split() == ["True", "True"], from_file.stderr
    assert exported.stdout.split() == ["False", "True"], exported.stderr


def test_docker_never_reads_a_local_env_file():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    dockerignore = (BASE_DIR / ".dockerignore").read_text().split()

    assert "MOVIESITE_ENV_FILE=" in dockerfile
    assert ".env" in dockerignore


def test_make_test_without_root_stops_at_once_with_the_command_to_run():
    command = ["make", "-s", "--no-print-directory", "test-packages", "TEST_DEBIAN_PACKAGES=moviesite-no-such-package"]
    if os.geteuid() == 0:  # play the user without root that the instruction is for
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]

    result = subprocess.run(command, cwd=BASE_DIR, capture_output=True, text=True, timeout=60)

    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[0] == (
        "The tests need Debian packages: moviesite-no-such-package. "
        "Run as root: apt-get install -y moviesite-no-such-package"
    )
