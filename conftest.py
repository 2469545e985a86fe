"""Test set-up shared by every app: the demo catalog, embedded with the real model, loaded once per run."""

from __future__ import annotations

import io
import re

import psutil
import pytest
from django.conf import settings
from django.core.management import call_command

DEMO_CATALOG = settings.BASE_DIR / "fixtures" / "demo_movies.csv"


@pytest.fixture(scope="session")
def _drop_test_databases_of_dead_runs():
    """Test databases are named after their run's pid; drop those a killed run left behind."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "moviesite.db_backends.embedded":
        return
    import psycopg
    from psycopg import sql

    from moviesite.embedded_db import ensure_server

    address = ensure_server(database["PGDATA"])
    with psycopg.connect(host=address.host, port=address.port, user="postgres", autocommit=True) as conn:
        names = [
            row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test_moviesite_%'")
        ]
        for name in names:
            match = re.fullmatch(r"test_moviesite_(\d+)", name)
            if match and not psutil.pid_exists(int(match.group(1))):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def django_db_setup(_drop_test_databases_of_dead_runs, django_db_setup, django_db_blocker):
    """Every test sees the demo catalog (committed once; each test's own changes roll back)."""
    with django_db_blocker.unblock():
        call_command("import_movies", DEMO_CATALOG, stdout=io.StringIO(), stderr=io.StringIO())


def pytest_collection_modifyitems(items):
    # Transactional tests (the browser's live server, subprocesses that must see committed rows) empty the
    # tables when they finish; run them after everything that relies on the demo catalog.
    def empties_tables(item) -> bool:
        marker = item.get_closest_marker("django_db")
        return item.get_closest_marker("browser") is not None or bool(marker and marker.kwargs.get("transaction"))

    items.sort(key=empties_tables)


@pytest.fixture
def frozen_throttle_clock(monkeypatch):
    """Throttle windows are fixed (a minute from :00): a test's requests that straddled a window's end would
    start a fresh count. Freeze the windows' clock in the middle of one."""
    monkeypatch.setattr("moviesite.throttling.clock", lambda: 1_800_000_030.0)
