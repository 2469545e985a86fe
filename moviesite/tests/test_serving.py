"""What a request costs the production server (issue 16): the statement limit set once per connection, one
statement per throttle count."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from catalog.models import Movie
from moviesite.tests.servers import on_this_test_database
from moviesite.throttling import hit

pytestmark = pytest.mark.django_db


def run_in_a_web_process(code: str, **variables: str) -> str:
    """Run `code` in a new process that loaded moviesite.wsgi as a web server does, on this run's test
    database (which holds the committed demo catalog); its stdout."""
    env = on_this_test_database(
        "runs the process on this run's test database on the embedded server",
        EMBEDDING_BACKEND="fake",
        ALLOWED_HOSTS="testserver",
        **variables,
    )
    script = "import moviesite.wsgi\n" + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


PROBE = """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from catalog.models import Movie
    from moviesite.middleware import StatementTimeoutMiddleware

    def limit_in_force(path):
        def view(request):
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('statement_timeout')")
                return cursor.fetchone()[0]
        return StatementTimeoutMiddleware(view)(type("Request", (), {"path": path})())

    film = Movie.objects.visible().first()
    with CaptureQueriesContext(connection) as queries:
        assert Client().get(f"/api/movies/{film.pk}/").status_code == 200
    print("set_config" in " ".join(q["sql"] for q in queries.captured_queries))
    print(limit_in_force("/api/movies/"), limit_in_force("/admin/catalog/movie/"))
"""


def test_a_web_servers_connections_start_with_the_limit_and_public_requests_add_no_statement_for_it():
    set_config, limits = run_in_a_web_process(PROBE).split("\n")[:2]

    assert set_config == "False"
    assert limits.split() == ["5s", "1min"]  # the admin's longer limit is still a SET LOCAL


def test_behind_a_transaction_pooler_every_statement_keeps_its_set_local():
    set_config, limits = run_in_a_web_process(PROBE, DATABASE_POOLER="transaction").split("\n")[:2]

    assert set_config == "True"
    assert limits.split() == ["5s", "1min"]


def test_management_commands_still_run_without_a_limit():
    env = on_this_test_database("runs the command on this run's test database on the embedded server")
    env.pop("MOVIESITE_WEB_SERVER", None)
    code = "from django.db import connection; c = connection.cursor(); c.execute('SHOW statement_timeout'); "
    code += "print(c.fetchone()[0])"
    command = [sys.executable, "manage.py", "shell", "--no-imports", "-c", code]
    result = subprocess.run(command, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)

    assert result.stdout.split()[-1] == "0", result.stderr[-2000:]


def test_a_throttle_count_is_one_statement_without_a_transaction_of_its_own(frozen_throttle_clock):
    with CaptureQueriesContext(connection) as queries:
        assert hit("probe-one-statement", 60)[0] == 1
        assert hit("probe-one-statement", 60)[0] == 2

    assert len(queries.captured_queries) == 2
    assert not any(q["sql"].strip().upper() in {"BEGIN", "COMMIT"} for q in queries.captured_queries)


def test_a_new_window_still_forgets_the_windows_that_are_over():
    hit("probe-old", 60, now=1_000_000.0)
    hit("probe-new", 60, now=1_000_000.0 + 120)

    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM moviesite_throttlecount WHERE key LIKE 'probe-%%'")
        assert [row[0] for row in cursor.fetchall()] == ["probe-new"]


def test_the_api_throttle_still_refuses_past_its_rate(monkeypatch, frozen_throttle_clock):
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute"})
    film = Movie.objects.visible().first()
    statuses = [APIClient().get(f"/api/movies/{film.pk}/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
