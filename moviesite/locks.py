"""One writer of the catalog at a time: a Postgres advisory lock taken by import_movies and embed_movies.

Two imports of the same file at once each found no film to match and created all of them (issue 17: 660
rows for 330 films), or died on a UniqueViolation when the file had external ids. Under the lock the second
run waits for the first (or, with --no-wait, exits with a message) and then matches what the first wrote.

The lock is a session lock on the command's connection: it goes when the command's process does, however it
ends. (Behind PgBouncer in transaction mode, run commands on a direct connection: session locks need one.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from django.core.management.base import CommandError
from django.db import connection

# Any 64-bit number no other code of this database uses: b"moviesit" read as an integer.
CATALOG_WRITES_LOCK = int.from_bytes(b"moviesit", "big") & 0x7FFF_FFFF_FFFF_FFFF
# Held by each transaction writing a batch of an import (`batch_write`), on the importer's writer connection, not
# the one holding CATALOG_WRITES_LOCK. A run killed with kill -9 loses that session lock as soon as its idle
# connection sees it gone, while its writer's backend may still be committing the last batch: the next run,
# taking this lock once, waits for that commit before it matches films against the catalog. (Without it, a
# re-run at once after kill -9 found a film missing that the dead run's commit then wrote: a UniqueViolation
# on its external id: catalog/tests/test_import_resume.py's kill -9 case, once in a fresh clone's CI.)
BATCH_WRITE_LOCK = CATALOG_WRITES_LOCK ^ 1


@contextmanager
def catalog_writes(*, wait: bool = True, stderr: TextIO | None = None, what: str = "this run") -> Iterator[None]:
    """Hold the catalog's write lock for the block; wait for it (saying so on `stderr`) or raise CommandError."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [CATALOG_WRITES_LOCK])
        acquired = cursor.fetchone()[0]
        if not acquired:
            message = "Another import_movies or embed_movies run is writing this catalog"
            if not wait:
                raise CommandError(f"{message}; {what} did nothing. Run it again once that one has finished.")
            if stderr is not None:
                stderr.write(f"{message}; {what} waits for it to finish...\n")
                stderr.flush()
            started = time.monotonic()
            cursor.execute("SELECT pg_advisory_lock(%s)", [CATALOG_WRITES_LOCK])
            if stderr is not None:
                stderr.write(f"...it finished after {time.monotonic() - started:.0f}s; {what} goes on.\n")
        # A batch still being committed by a run that is gone (see BATCH_WRITE_LOCK): wait for it.
        cursor.execute("SELECT pg_advisory_lock(%s)", [BATCH_WRITE_LOCK])
        cursor.execute("SELECT pg_advisory_unlock(%s)", [BATCH_WRITE_LOCK])
    try:
        yield
    finally:
        if connection.connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [CATALOG_WRITES_LOCK])


def batch_write() -> None:
    """Mark the current transaction as one writing a batch of the catalog (BATCH_WRITE_LOCK, released when it
    commits or rolls back), so that the next writer of the catalog waits for it to end."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [BATCH_WRITE_LOCK])
