"""Database-session helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction
from django.db.models import F


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
    that is not the primary.
    """
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        if settings:  # set_config(..., true) is SET LOCAL; all of them in one round trip
            calls = ", ".join(["set_config(%s, %s, true)"] * len(settings))
            cursor.execute(f"SELECT {calls}", [str(part) for item in settings.items() for part in item])
        yield


def nulls_last(field_name: str) -> models.OrderBy:
    """An ordering by `field_name` ("-name" descending) that puts films without a value last either way."""
    if field_name.startswith("-"):
        return F(field_name[1:]).desc(nulls_last=True)
    return F(field_name).asc(nulls_last=True)
