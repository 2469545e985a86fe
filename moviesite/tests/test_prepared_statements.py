"""moviesite.db.fetch_prepared: a statement Postgres parses and plans once per connection (issue 16, issue-16x)."""

from __future__ import annotations

import pytest
from django.db import ProgrammingError, connection
from django.test.utils import CaptureQueriesContext

from moviesite.db import fetch, fetch_prepared

pytestmark = pytest.mark.django_db

STATEMENT = "SELECT n, %s::text FROM generate_series(1, %s) AS n ORDER BY n"


def prepared_statements() -> list[str]:
    return [sql for (sql,) in fetch("SELECT statement FROM pg_prepared_statements", [])]


def test_a_statement_is_prepared_once_and_read_with_each_calls_values():
    assert fetch_prepared(STATEMENT, ["a", 2]) == [(1, "a"), (2, "a")]
    assert fetch_prepared(STATEMENT, ["b", 3]) == [(1, "b"), (2, "b"), (3, "b")]
    assert prepared_statements().count("SELECT n, $1::text FROM generate_series(1, $2) AS n ORDER BY n") == 1


def test_statements_django_runs_are_not_prepared():
    fetch(STATEMENT, ["a", 2])
    with connection.cursor() as cursor:
        cursor.execute(STATEMENT, ["a", 3])
    assert not [sql for sql in prepared_statements() if "generate_series" in sql]


def test_behind_a_transaction_pooler_nothing_is_prepared(monkeypatch):
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)  # as settings.py makes it there
    assert fetch_prepared(STATEMENT, ["a", 2]) == [(1, "a"), (2, "a")]
    assert not [sql for sql in prepared_statements() if "generate_series" in sql]


def test_a_prepared_statement_is_logged_with_its_values_as_the_others_are():
    with CaptureQueriesContext(connection) as statements:
        fetch_prepared(STATEMENT, ["it's", 2])
        fetch(STATEMENT, ["it's", 2])
    logged = [query["sql"] for query in statements.captured_queries]
    assert logged[0] == logged[1] and "'it''s'" in logged[0]


def test_a_write_without_rows_reads_none_and_errors_are_djangos():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE prepared_probe (n int)")
    assert fetch_prepared("INSERT INTO prepared_probe VALUES (%s)", [7]) == []
    assert fetch("SELECT n FROM prepared_probe", []) == [(7,)]
    with pytest.raises(ProgrammingError):
        fetch_prepared("SELECT no_such_column FROM prepared_probe WHERE n = %s", [7])
