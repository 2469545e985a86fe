"""The site-wide tables that belong to no app of the catalog: the throttles' request counts, cached API answers."""

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


class CachedAnswer(models.Model):
    """A whole API answer (the JSON body) for anonymous clients, valid for one catalog version (catalog/api/
    answers.py).

    UNLOGGED (migration 0002): a lost answer is computed again. Shared by every worker process, so an answer
    one worker computed serves them all, and a server restart finds its answers still there.
    """

    key = models.CharField(max_length=64, primary_key=True, help_text="SHA-256 of the request's normalised form.")
    catalog_version = models.BigIntegerField()
    body = models.BinaryField()
    stored_at = models.BigIntegerField(db_index=True, help_text="When, in seconds since the epoch.")

    def __str__(self) -> str:
        return f"answer {self.key[:12]} @ version {self.catalog_version}"
