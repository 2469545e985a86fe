"""What the app needs from a PostgreSQL server, checked before it is used: a clear error, not a failed query.

The embedded server always has it all; a managed Postgres given by DATABASE_URL may not. Registered as a
database system check, so `migrate`, `check --database default` and the server's start-up (moviesite/wsgi.py)
stop with the list of what is missing.
"""

from __future__ import annotations

from django.core import checks
from django.db import connections

MIN_SERVER_VERSION = 140000  # PostgreSQL 14: GENERATED columns and the pg_trgm/unaccent we use
# pgvector 0.8 brought iterative index scans: filtered nearest-neighbour queries that still fill their limit.
EXTENSIONS = {"vector": (0, 8, 0), "pg_trgm": (1, 0, 0), "unaccent": (1, 0, 0), "btree_gin": (1, 0, 0)}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def missing_requirements(alias: str = "default") -> list[str]:
    """What the server behind ``alias`` lacks, in words an operator can act on (empty when all is there)."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        server_version = cursor.fetchone()[0]
        cursor.execute("SELECT name, default_version FROM pg_available_extensions WHERE name = ANY(%s)",
                       [list(EXTENSIONS)])  # fmt: skip
        available = dict(cursor.fetchall())
    problems = []
    if server_version < MIN_SERVER_VERSION:
        problems.append(f"PostgreSQL {server_version // 10000} is too old: 14 or newer is needed")
    for name, minimum in EXTENSIONS.items():
        wanted = ".".join(map(str, minimum))
        if name not in available:
            problems.append(f"the extension {name} (>= {wanted}) is not installed on the server")
        elif version_tuple(available[name]) < minimum:
            problems.append(f"the extension {name} is {available[name]}; {wanted} or newer is needed")
    return problems


@checks.register(checks.Tags.database)
def check_server_requirements(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for alias in databases or []:
        for problem in missing_requirements(alias):
            errors.append(checks.Error(f"Database {alias!r}: {problem}.", id="moviesite.E001"))
    return errors
