"""Database-session helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import F
from psycopg.pq import ExecStatus


def reading(model: type[models.Model]):
    """The connection that reads `model` now: a replica for the public's requests, else the primary
    (moviesite.replicas). Raw SQL that reads the catalog uses it, like the ORM's reads do."""
    return connections[router.db_for_read(model)]


@contextmanager
def local_settings(settings: dict[str, object], *, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Postgres settings that last for the queries of this block alone, on the database `using`.

    SET LOCAL only lasts until the end of the transaction, so the block runs inside one (its own, or the
    caller's, where the settings then last until that one ends: harmless for the planner, index and trigram
    settings it is used for). Pass the alias the block's queries read from (`queryset.db`): with replicas,
    that is not the primary. Settings the connection started with (`unchanged`) need neither.
    """
    settings = unchanged(settings, using=using)
    if not settings:
        yield
        return
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(*set_local(settings))
        yield


def set_local(settings: dict[str, object]) -> tuple[str, list[str]]:
    """One statement that SETs LOCAL all of `settings` (set_config(..., true)), and its parameters."""
    calls = ", ".join(["set_config(%s, %s, true)"] * len(settings))
    return f"SELECT {calls}", [str(part) for item in settings.items() for part in item]


def unchanged(settings: dict[str, object], *, using: str = DEFAULT_DB_ALIAS) -> dict[str, object]:
    """`settings` without those the connection `using` started with (django.conf.settings.CONNECTION_SETTINGS:
    startup options of a web server's connections, nothing sets them for a session) and still has: outside a
    transaction, where no SET LOCAL of an earlier block can have changed them."""
    started = getattr(django_settings, "CONNECTION_SETTINGS", {})
    connection = connections[using]
    if not started or connection.in_atomic_block or not connection.get_autocommit():
        return settings
    return {name: value for name, value in settings.items() if started.get(name) != str(value)}


def fetch_with_settings(
    settings: dict[str, object], sql: str, params: Sequence[object], *, using: str = DEFAULT_DB_ALIAS
) -> list[tuple]:
    """The rows of one statement run with Postgres `settings` for it alone, in one round trip, not four
    (`fetch_after` a SET LOCAL of them)."""
    settings = unchanged(settings, using=using)
    if not settings:
        return fetch(sql, params, using=using)
    return fetch_after(set_local(settings), sql, params, using=using)


def fetch(sql: str, params: Sequence[object], *, using: str = DEFAULT_DB_ALIAS) -> list[tuple]:
    """The rows of one statement on the database `using`."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_prepared(sql: str, params: Sequence[object], *, using: str = DEFAULT_DB_ALIAS) -> list[tuple]:
    """The rows of one statement (none for a write without RETURNING) on the database `using`, prepared: Postgres
    parses and plans it once per connection, then runs the same plan (its generic plan, once it is no dearer
    than the first five runs' own plans) with the new values. For a hot statement whose text is the same from
    one call to the next, every value a parameter. On TMDB 5000 a search's page of films cost 1.25 -> 0.80 ms of
    Postgres CPU, its word statistics 0.19 -> 0.07 (benchmarks/RESULTS.md, issue-16x).

    A value the generic plan computes from a parameter is computed again for every row it is used on (a constant
    is computed once): such an expression goes in a one-row subquery of its own, an InitPlan, computed once
    (search's `WORD_QUERY`). Where a connection prepares nothing (behind PgBouncer's transaction mode,
    settings.py), `fetch`."""
    connection = connections[using]
    with connection.cursor() as cursor:  # Django's checks and connection
        if cursor.cursor.connection.prepare_threshold is not None:
            prepared = _PreparedCursor(cursor.cursor.connection)
            # Django's wrapper of its own cursors: errors translated, the statement logged where queries are.
            cursor = (
                connection.make_debug_cursor(prepared)
                if connection.queries_logged
                else connection.make_cursor(prepared)
            )
        with cursor:  # the prepared cursor too, which the outer `with` does not close, whatever happens
            cursor.execute(sql, params)
            # Rows, unless the statement was a write without RETURNING: asked of the result's status, not of
            # `description`, which builds a Column for each of the result's columns (~25 for a page of films).
            result = cursor.cursor.pgresult
            return cursor.fetchall() if result is not None and result.status == ExecStatus.TUPLES_OK else []


class _PreparedCursor(ServerBindingCursor):
    """A cursor that binds parameters server-side (`%s` becomes `$1`) and has psycopg prepare every statement."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        super().execute(query, params, prepare=True, binary=binary)
        # What Django logs of a statement where queries are logged (`last_executed_query` reads `_query.query`,
        # which psycopg sets only for a statement it does not prepare): its text with the values written in, as
        # Django's own cursors give it, made only if read.
        self._query = _WrittenOut(self.connection, query, params)
        return self


class _WrittenOut:
    def __init__(self, connection, query, params) -> None:
        self.connection, self.statement, self.params = connection, query, params

    @property
    def query(self) -> bytes:
        from psycopg import ClientCursor

        return ClientCursor(self.connection).mogrify(self.statement, self.params).encode()


def fetch_after(
    prelude: tuple[str, Sequence[object]], sql: str, params: Sequence[object], *, using: str = DEFAULT_DB_ALIAS
) -> list[tuple]:
    """The rows of `sql` run right after the statement `prelude` (its SQL and parameters: a SET LOCAL, a
    set_config(..., true)) in the same transaction, in one round trip instead of four (BEGIN, the prelude,
    the statement, COMMIT).

    Both go in one query string (`<prelude>; <sql>`): Postgres runs a string of statements as one transaction
    (an implicit one, or the caller's), so a SET LOCAL lasts until its end, as in `local_settings`, and
    PgBouncer's transaction mode keeps the string on one server connection. A string of statements needs
    client-side parameter binding (Django's default with psycopg 3); with server-side binding (OPTIONS
    `server_side_binding`) the two run one after the other in a transaction of their own.
    """
    import psycopg

    prelude_sql, prelude_params = prelude
    with connections[using].cursor() as cursor:
        if isinstance(cursor.cursor, psycopg.ClientCursor):
            cursor.execute(f"{prelude_sql}; {sql}", [*prelude_params, *params])
            cursor.nextset()
            return cursor.fetchall()
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(prelude_sql, prelude_params)
        cursor.execute(sql, params)
        return cursor.fetchall()


def own_where(queryset: models.QuerySet) -> tuple[str, list[object]] | None:
    """`queryset`'s filter as SQL over its own table and its parameters, its conditions joined by AND with no
    parentheses around them ("" when it has none), when the queryset reads that table alone (no join, slice,
    DISTINCT, grouping, annotation or extra); None otherwise, or when the filter matches nothing.

    For a statement written out over that table, which adds its own conditions after these, inside one pair of
    parentheses, as the ORM writes a filtered query: a hot path then need not have the ORM build and compile
    a whole query (0.2-0.5 ms of Python each). Where it returns None, the caller goes through the ORM.
    """
    from django.core.exceptions import EmptyResultSet, FullResultSet
    from django.db.models.sql.where import AND

    query = queryset.query
    table = query.model._meta.db_table
    if (
        query.is_sliced
        or query.distinct
        or query.group_by is not None
        or query.combinator
        or query.annotations
        or query.extra
        or query.extra_tables
        or set(query.alias_map) - {table}
    ):
        return None
    compiler = query.get_compiler(using=queryset.db)
    where = query.where
    # The ORM adds a query's own conditions to the filter's top AND: compiled one by one, they read the same.
    parts = where.children if where.connector == AND and not where.negated else [where]
    conditions, params = [], []
    for part in parts:
        try:
            sql, part_params = compiler.compile(part)
        except FullResultSet:
            continue
        except EmptyResultSet:
            return None
        conditions.append(sql)
        params.extend(part_params)
    return " AND ".join(conditions), params


def and_where(where: tuple[str, list[object]], *conditions: str) -> str:
    """`own_where`'s conditions and `conditions` as the ORM writes a WHERE clause's: joined by AND, in
    parentheses when there are several."""
    joined = [where[0], *conditions] if where[0] else list(conditions)
    return f"({' AND '.join(joined)})" if len(joined) > 1 else joined[0]


def nulls_last(field_name: str) -> models.OrderBy:
    """An ordering by `field_name` ("-name" descending) that puts films without a value last either way."""
    if field_name.startswith("-"):
        return F(field_name[1:]).desc(nulls_last=True)
    return F(field_name).asc(nulls_last=True)
