"""/healthz for load balancers: database reachable, extensions installed, embedding backend usable.

Replicas are reported but never make the answer unhealthy: while one is down or lagging, the primary serves.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from moviesite.replicas import replica_report
from recommender.encoders import EmbeddingError, get_encoder

REQUIRED_EXTENSIONS = {"vector", "pg_trgm", "unaccent"}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extname FROM pg_extension")
            missing = REQUIRED_EXTENSIONS - {row[0] for row in cursor.fetchall()}
        checks["database"] = "ok"
        checks["extensions"] = "ok" if not missing else f"missing: {', '.join(sorted(missing))}"
    except Exception as exc:  # any database failure means unhealthy, whatever its class
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        # Constructing the encoder checks its configuration without paying for a model load.
        checks["embedding_backend"] = f"ok: {get_encoder().name}"
    except EmbeddingError as exc:
        checks["embedding_backend"] = f"error: {exc}"
    healthy = all(value.startswith("ok") for value in checks.values())
    body = {"status": "ok" if healthy else "error", "checks": checks}
    if replicas := replica_report():
        body["replicas"] = replicas
    return JsonResponse(body, status=200 if healthy else 503)
