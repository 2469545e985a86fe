"""Site-wide request guards (issue 17): a statement timeout for every web request's queries, 503 instead of
a 500 when the database is down or a query ran out of time, and the security headers every response carries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from moviesite.db import set_local

logger = logging.getLogger("moviesite")


class StatementTimeout:
    """An execute wrapper that gives every statement a `SET LOCAL statement_timeout`.

    SET LOCAL lasts until the end of the transaction, so it is safe behind PgBouncer in transaction mode (a
    session-level SET would leak to whichever client gets the server connection next). A statement outside
    any transaction runs in one of its own, opened here; inside one the setting is repeated before each
    statement (a rolled-back savepoint would undo it), one short round trip each.
    """

    def __init__(self, milliseconds: int) -> None:
        self.milliseconds = milliseconds
        self._busy = False

    def __call__(self, execute, sql, params, many, context):
        if self._busy or not self.milliseconds:
            return execute(sql, params, many, context)
        database = context["connection"]
        if database.vendor != "postgresql":
            return execute(sql, params, many, context)
        if database.in_atomic_block:
            self._set(database)
            return execute(sql, params, many, context)
        with transaction.atomic(using=database.alias):
            self._set(database)
            return execute(sql, params, many, context)

    def _set(self, database) -> None:
        self._busy = True
        try:
            with database.cursor() as cursor:
                cursor.execute(*set_local({"statement_timeout": self.milliseconds}))
        finally:
            self._busy = False


def request_timeout_ms(request: HttpRequest) -> int:
    """Staff pages (the admin's merges and bulk actions) get longer than public requests."""
    if request.path.startswith("/admin/"):
        return settings.ADMIN_STATEMENT_TIMEOUT_MS
    return settings.REQUEST_STATEMENT_TIMEOUT_MS


class StatementTimeoutMiddleware:
    """Every query of a web request has a time limit; management commands (imports, embedding) have none.

    Where the connections already start with the request's limit (settings.CONNECTION_STATEMENT_TIMEOUT_MS: a
    web server without a pooler) nothing is added; otherwise (the admin's longer limit, behind PgBouncer, the
    test client) each statement gets its SET LOCAL.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        milliseconds = request_timeout_ms(request)
        if milliseconds == settings.CONNECTION_STATEMENT_TIMEOUT_MS:
            return self.get_response(request)
        timeout = StatementTimeout(milliseconds)
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(timeout))
            return self.get_response(request)


# What a client is told, by cause. Messages name no server, table or query.
UNAVAILABLE = "The database is unavailable right now."
TOO_SLOW = "This request took too long and was stopped."


def _is_timeout(exc: BaseException) -> bool:
    import psycopg

    return isinstance(exc.__cause__, psycopg.errors.QueryCanceled)


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with Retry-After: JSON {"detail": ...} under /api/ (and for clients asking for JSON), else a page."""
    message = TOO_SLOW if _is_timeout(exc) else UNAVAILABLE
    retry_after = settings.DATABASE_RETRY_AFTER
    if request.path.startswith("/api/") or not request.accepts("text/html"):
        response: HttpResponse = JsonResponse({"detail": f"{message} Please retry shortly."}, status=503)
    else:
        try:
            # The site's own page, rendered without the request: context processors might query the database.
            body = render_to_string("503.html", {"message": message, "retry_after": retry_after})
        except Exception:  # the template layer must never turn a 503 into a 500
            body = f"<!doctype html><title>Unavailable</title><h1>Unavailable for a moment</h1><p>{message}</p>"
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(retry_after)
    return response


class DatabaseUnavailableMiddleware:
    """A dead database or a query stopped by statement_timeout is a 503 with a message, never a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError) as exc:  # raised by a middleware below us
            return self._answer(request, exc)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if isinstance(exc, OperationalError | InterfaceError) or (isinstance(exc, DatabaseError) and _is_timeout(exc)):
            return self._answer(request, exc)
        return None

    def _answer(self, request: HttpRequest, exc: BaseException) -> HttpResponse:
        logger.warning("503 for %s %s: %s: %s", request.method, request.path, exc.__class__.__name__, exc)
        for alias in connections:
            # Mark the connection for a health check, so the next request reconnects instead of reusing it.
            connections[alias].errors_occurred = True
        return unavailable_response(request, exc)


class ApiBodyLimitsMiddleware:
    """Under /api/, a body or form too big for Django to read is a JSON 413 or 400 like every other API error,
    not Django's HTML 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not request.path.startswith("/api/"):
            return None
        if isinstance(exc, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return JsonResponse({"detail": f"The request body is over {limit} bytes."}, status=413)
        if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
            return JsonResponse({"detail": "Too many fields in the request."}, status=400)
        return None


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response (a view may set its own)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if request.path.startswith(settings.API_DOCS_PATHS):
            policy = settings.CONTENT_SECURITY_POLICY_API_DOCS
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response
