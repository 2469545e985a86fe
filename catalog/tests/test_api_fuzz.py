"""Schema-driven fuzzing: schemathesis reads /api/schema/ and throws valid and invalid requests at every
operation; no answer may be a server error or differ from what the schema promises (status, headers, body).

The app is called in-process through WSGI on the test's own database connection, so the demo catalog is there
and every write rolls back with the test. Bounded and deterministic: a fixed number of examples per operation,
derandomized.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.throttling import AnonRateThrottle
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from catalog.tests.helpers import make_editor

pytestmark = pytest.mark.django_db

# ~40 s for every operation on two cores; API_FUZZ_EXAMPLES=500 for a deeper search by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("API_FUZZ_EXAMPLES", 25))

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())


@pytest.fixture(autouse=True)
def _requests_share_the_test_connection():
    """Django closes a connection left in a transaction when a request starts or ends; the test's own
    transaction would go with it. Its test client switches that off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_anonymous_throttle(monkeypatch):
    """Hundreds of anonymous requests in a few seconds are the fuzzer's job; a 429 would only hide bugs."""
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": None})


@pytest.fixture
def staff_token() -> str:
    user = make_editor("fuzz-staff")
    return Token.objects.create(user=user).key


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_answers_match_the_schema(case, staff_token):
    # Writes as staff, so their validation is what gets fuzzed (an anonymous write stops at the 401).
    headers = {} if case.method == "GET" else {"Authorization": f"Token {staff_token}"}
    # Parameters are judged both ways: every one the schema allows is accepted, every one it forbids refused.
    # A JSON body's validity also depends on the catalog (a taken tmdb_id, an unknown film id: 400s the
    # schema cannot express), and DRF reads JSON leniently ("1999" is a fine year), so for bodies only the
    # answers are judged: no server error, and status, headers and body as documented.
    lenient = [positive_data_acceptance, negative_data_rejection] if case.body is not NOT_SET else []
    case.call_and_validate(headers=headers, excluded_checks=lenient)
