"""The site-wide tables that belong to no app of the catalog: the throttles' request counts."""

from __future__ import annotations

from django.db import models


class ThrottleCount(models.Model):
    """Requests of one client in one fixed window of one throttle, shared by every worker process.

    The table is UNLOGGED (migration 0001): counts are worth nothing after a crash, and skipping the
    write-ahead log makes each count one cheap upsert.
    """

    key = models.CharField(max_length=200)
    window = models.BigIntegerField(help_text="Start of the window, in seconds since the epoch.")
    expires = models.BigIntegerField(db_index=True)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window"], name="throttle_key_window")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window}: {self.count}"
