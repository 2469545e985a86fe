"""What keeps the app safe behind PgBouncer's transaction mode, and the read router's rules."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.test import RequestFactory

from catalog.models import Movie
from moviesite import replicas

BASE_DIR = Path(settings.BASE_DIR)
APP_PACKAGES = ("catalog", "recommender", "moviesite")
SHOW_DATABASE = (
    "from django.conf import settings; d = settings.DATABASES['default']; "
    "print(d.get('DISABLE_SERVER_SIDE_CURSORS'), d.get('OPTIONS', {}).get('prepare_threshold', 'unset'))"
)


def settings_with(**variables: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "1",
        "MOVIESITE_ENV_FILE": "",
        "DATABASE_URL": "postgres://app@127.0.0.1:6432/moviesite",
        **variables,
    }
    command = [sys.executable, "manage.py", "shell", "--no-imports", "-c", SHOW_DATABASE]
    return subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)


def test_behind_a_transaction_pooler_nothing_outlives_a_transaction():
    pooled = settings_with(DATABASE_POOLER="transaction")
    direct = settings_with()

    assert pooled.stdout.split() == ["True", "None"], pooled.stderr
    # A direct connection prepares the statements moviesite.db.fetch_prepared asks it to, and no other.
    assert direct.stdout.split() == ["False", str(2**31 - 1)], direct.stderr


def test_an_unknown_pooler_mode_refuses_to_start():
    result = settings_with(DATABASE_POOLER="statement")

    assert result.returncode != 0
    assert "DATABASE_POOLER is 'transaction'" in result.stderr


def sql_strings(path: Path) -> list[tuple[int, str]]:
    strings = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
            strings.append((node.lineno, text))
    return strings


def test_the_code_keeps_no_session_state_on_a_connection():
    """A session-level SET or set_config(..., false) would leak to the next client of a pooled connection."""
    # SQL is written in capitals here, which also keeps prose ("Set SECRET_KEY to ...") out of the net.
    session_set = re.compile(r"^\s*SET\s+(?!LOCAL\b|CONSTRAINTS\b)[A-Za-z_][\w.]*\s*(=|TO\b)")
    session_config = re.compile(r"set_config\([^)]*,\s*false\s*\)", re.IGNORECASE)
    offenders = []
    for package in APP_PACKAGES:
        for path in (BASE_DIR / package).rglob("*.py"):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            for line, text in sql_strings(path):
                if session_set.search(text) or session_config.search(text):
                    offenders.append(f"{path.relative_to(BASE_DIR)}:{line}: {text.strip()[:60]}")

    assert offenders == []


def test_writes_unsafe_methods_credentials_and_the_admin_read_from_the_primary():
    factory = RequestFactory()
    pinned = factory.get("/api/search/?q=x")
    pinned.COOKIES[replicas.PIN_COOKIE] = "1"

    assert replicas.reads_go_to_primary(factory.post("/api/recommendations/"))
    assert replicas.reads_go_to_primary(factory.get("/api/movies/", HTTP_AUTHORIZATION="Token abc"))
    assert replicas.reads_go_to_primary(factory.get("/admin/catalog/movie/"))
    assert replicas.reads_go_to_primary(pinned)
    assert not replicas.reads_go_to_primary(factory.get("/api/search/?q=x"))
    assert not replicas.reads_go_to_primary(factory.get("/movies/1/"))


def test_only_the_catalog_is_read_from_the_replica_the_request_chose():
    router = replicas.ReplicaRouter()
    token = replicas._reads_from.set("replica1")
    try:
        assert router.db_for_read(Movie) == "replica1"
        assert router.db_for_read(User) == "default"
        assert router.db_for_write(Movie) == "default"
    finally:
        replicas._reads_from.reset(token)

    assert router.db_for_read(Movie) == "default"  # outside a request: commands and imports
    assert router.allow_migrate("replica1", "catalog") is False
