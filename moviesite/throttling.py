"""Throttles that hold: keyed on the real client address, counted in Postgres so every worker shares them.

A client's address is REMOTE_ADDR unless NUM_PROXIES proxies we trust stand in front, in which case it is the
address the outermost of them saw (the NUM_PROXIES-th entry of X-Forwarded-For from the right): entries further
left are whatever the client chose to write. With NUM_PROXIES=0 (the default) X-Forwarded-For is ignored.

Counts are kept per fixed window in the UNLOGGED table moviesite_throttlecount, one atomic upsert per request (one
statement, one round trip): exact across processes (no read-modify-write race, unlike a cache holding a list of
timestamps) and cheap.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import AnonRateThrottle

from moviesite.db import fetch_prepared

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def client_address(request: HttpRequest) -> str:
    """The address of the client as the outermost trusted proxy (or our own socket) saw it."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.NUM_PROXIES
    if not proxies:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/minute' -> (600, 60)."""
    count, period = rate.split("/")
    return int(count), PERIODS[period.strip()[0]]


# The clock of the windows (a test freezes it, so that its few requests never straddle a window's end).
clock = time.time


# One statement per count, in autocommit (no transaction of its own, one round trip): the upsert, and when it
# opened a new window for its key (count 1), the windows that are over are forgotten, by index.
COUNT_SQL = """
    WITH counted AS (
        INSERT INTO moviesite_throttlecount (key, "window", expires, count) VALUES (%s, %s, %s, 1)
        ON CONFLICT (key, "window") DO UPDATE SET count = moviesite_throttlecount.count + 1
        RETURNING count
    ), forgotten AS (
        DELETE FROM moviesite_throttlecount WHERE expires < %s AND (SELECT count FROM counted) = 1
    )
    SELECT count FROM counted"""


def hit(key: str, period: int, *, now: float | None = None) -> tuple[int, int]:
    """Count one request for `key` in the current window of `period` seconds: (count so far, seconds left)."""
    now = clock() if now is None else now
    window = int(now) // period * period
    expires = window + period
    count = fetch_prepared(COUNT_SQL, [key[:200], window, expires, int(now)])[0][0]
    return count, max(1, expires - int(now))


class SharedAnonRateThrottle(AnonRateThrottle):
    """DRF's anonymous throttle (scope "anon", API_ANON_RATE), on the real address and the shared counts."""

    def allow_request(self, request, view) -> bool:
        if request.user and request.user.is_authenticated:
            return True
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        count, self._wait = hit(f"{self.scope}:{client_address(request)}", self.duration)
        return count <= self.num_requests

    def get_ident(self, request) -> str:
        return client_address(request)

    def wait(self) -> float:
        return self._wait


def throttled_page(request: HttpRequest, wait: int) -> HttpResponse:
    """429 for the site: a page saying when to try again, or JSON for site.js's fetch()."""
    if not request.accepts("text/html"):
        response: HttpResponse = JsonResponse(
            {"detail": f"Too many requests; try again in {wait} seconds."}, status=429
        )
    else:
        response = render(request, "429.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


def throttle(scope: str, *, only_if: Callable[[HttpRequest], bool] | None = None):
    """Limit a site view to settings.SITE_THROTTLE_RATES[scope] requests per client address."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            rate = settings.SITE_THROTTLE_RATES.get(scope)
            if rate and (only_if is None or only_if(request)):
                limit, period = parse_rate(rate)
                count, wait = hit(f"site-{scope}:{client_address(request)}", period)
                if count > limit:
                    return throttled_page(request, wait)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
