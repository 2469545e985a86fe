"""Database-session helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, models, transaction
from django.db.models import F


@contextmanager
def local_settings(settings: dict[str, object]) -> Iterator[None]:
    """Postgres settings that last for the queries of this block alone.

    SET LOCAL only lasts until the end of the transaction, so the block runs inside one (its own, or the
    caller's, where the settings then last until that one ends: harmless for the planner, index and trigram
    settings it is used for).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute(f"SET LOCAL {name} = %s", [value])
        yield


def nulls_last(field_name: str) -> models.OrderBy:
    """An ordering by `field_name` ("-name" descending) that puts films without a value last either way."""
    if field_name.startswith("-"):
        return F(field_name[1:]).desc(nulls_last=True)
    return F(field_name).asc(nulls_last=True)
