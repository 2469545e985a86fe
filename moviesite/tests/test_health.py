"""/healthz: what a load balancer asks before sending requests."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database_extensions_and_backend(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "extensions": "ok", "embedding_backend": "ok: all-MiniLM-L6-v2"},
    }
