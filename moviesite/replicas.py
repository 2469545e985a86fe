"""Streaming replicas: the public's reads go to a healthy replica, everything else to the primary.

`DATABASE_REPLICA_URLS` adds one database alias per replica (settings.py). Per request, the middleware chooses
where the catalog's reads go:

- the primary for writes (any unsafe method), the admin, a request with credentials (`Authorization`), and a
  client that wrote within the last `READ_YOUR_WRITES_SECONDS` (a short-lived cookie set by its write: the
  cookie pinning of django-multidb-router, kept here in a few lines because we also need the health checks and
  the retry below, which that library does not do);
- otherwise one healthy replica, chosen once for the whole request so its reads see one snapshot of history.

A replica is healthy when it answers, is in recovery (a standby) and replays within `REPLICA_MAX_LAG_SECONDS`
of the primary; each process asks each replica at most every `REPLICA_CHECK_SECONDS`. A safe request whose
replica fails under it is run again on the primary, so a replica dying costs latency, not errors. Outside a
request (management commands, the import, tests) every read goes to the primary. Only the catalog's and the
recommender's tables are read from replicas: sessions, users, tokens and throttle counts are always read where
they are written.
"""

from __future__ import annotations

import contextvars
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

REPLICATED_APPS = frozenset({"catalog", "recommender"})
PIN_COOKIE = "moviesite_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The standby's replay delay: zero when it has replayed all it received, else the age of the last replayed
# transaction (the usual measure; on an idle primary nothing is outstanding, so an old timestamp is not lag).
LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END
"""

_reads_from: contextvars.ContextVar[str] = contextvars.ContextVar("reads_from", default=DEFAULT_DB_ALIAS)


def replica_aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica")]


@dataclass
class ReplicaState:
    healthy: bool
    detail: str
    checked_at: float


class ReplicaHealth:
    """Each replica's last known state in this process, asked again once it is older than the check interval."""

    def __init__(self) -> None:
        self._states: dict[str, ReplicaState] = {}
        self._lock = threading.Lock()

    def state(self, alias: str) -> ReplicaState:
        with self._lock:
            known = self._states.get(alias)
        if known and time.monotonic() - known.checked_at < settings.REPLICA_CHECK_SECONDS:
            return known
        state = self._ask(alias)
        with self._lock:
            self._states[alias] = state
        return state

    def mark_down(self, alias: str, reason: str) -> None:
        with self._lock:
            self._states[alias] = ReplicaState(False, f"error: {reason}", time.monotonic())

    def _ask(self, alias: str) -> ReplicaState:
        now = time.monotonic()
        connection = connections[alias]
        try:
            with connection.cursor() as cursor:
                cursor.execute(LAG_SQL)
                in_recovery, lag = cursor.fetchone()
        except (OperationalError, InterfaceError) as exc:
            connection.close_if_unusable_or_obsolete()
            return ReplicaState(False, f"error: {exc.__class__.__name__}", now)
        if float(lag) > settings.REPLICA_MAX_LAG_SECONDS:
            return ReplicaState(False, f"lagging: {float(lag):.1f} s", now)
        return ReplicaState(True, "ok" if in_recovery else "ok: not a standby", now)


health = ReplicaHealth()


def choose_replica() -> str:
    """A healthy replica at random, or the primary when none is."""
    healthy = [alias for alias in replica_aliases() if health.state(alias).healthy]
    return random.choice(healthy) if healthy else DEFAULT_DB_ALIAS


def reads_go_to_primary(request: HttpRequest) -> bool:
    return (
        request.method not in SAFE_METHODS
        or PIN_COOKIE in request.COOKIES
        or "HTTP_AUTHORIZATION" in request.META
        or request.path.startswith("/admin/")
    )


class ReplicaRouter:
    """Sends the catalog's reads where the current request's middleware chose; every write to the primary."""

    def db_for_read(self, model, **hints) -> str:
        if model._meta.app_label in REPLICATED_APPS:
            return _reads_from.get()
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # one database, physically copied: every alias holds the same rows

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReadYourWritesMiddleware:
    """Chooses the request's read database, retries a replica's failure on the primary, pins after a write."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        alias = DEFAULT_DB_ALIAS if reads_go_to_primary(request) else choose_replica()
        token = _reads_from.set(alias)
        try:
            response = self.get_response(request)
        finally:
            _reads_from.reset(token)
        if request.method not in SAFE_METHODS:
            response.set_cookie(
                PIN_COOKIE,
                "1",
                max_age=settings.READ_YOUR_WRITES_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        alias = _reads_from.get()
        if alias == DEFAULT_DB_ALIAS or not isinstance(exception, OperationalError | InterfaceError):
            return None
        return retry_on_primary(request, alias, exception)


def retry_on_primary(request: HttpRequest, alias: str, exception: Exception) -> HttpResponse | None:
    """Run a safe request's view again on the primary after its replica failed under it."""
    if request.method not in SAFE_METHODS or request.resolver_match is None:
        return None
    health.mark_down(alias, exception.__class__.__name__)
    connections[alias].close_if_unusable_or_obsolete()
    _reads_from.set(DEFAULT_DB_ALIAS)
    match = request.resolver_match
    response = match.func(request, *match.args, **match.kwargs)
    if hasattr(response, "render") and callable(response.render):
        response = response.render()
    return response


def replica_report() -> dict[str, str]:
    """Each replica's state for /healthz (a replica down is reported, not fatal: the primary serves)."""
    return {alias: health.state(alias).detail for alias in replica_aliases()}
