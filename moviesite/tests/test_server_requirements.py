"""The database server's requirements are checked before use, with a message an operator can act on."""

from __future__ import annotations

from django.core import checks
from django.db import connection

from moviesite import server_requirements


def test_the_embedded_server_has_everything_the_app_needs(db):
    assert server_requirements.missing_requirements() == []
    assert server_requirements.check_server_requirements(databases=["default"]) == []


def test_an_old_pgvector_is_named_with_the_version_needed(db, monkeypatch):
    monkeypatch.setitem(server_requirements.EXTENSIONS, "vector", (99, 0, 0))

    errors = server_requirements.check_server_requirements(databases=["default"])

    assert [error.id for error in errors] == ["moviesite.E001"]
    assert "the extension vector is 0.8" in errors[0].msg
    assert "99.0.0 or newer is needed" in errors[0].msg


def test_a_missing_extension_is_named(db, monkeypatch):
    monkeypatch.setitem(server_requirements.EXTENSIONS, "no_such_extension", (1, 0, 0))

    problems = server_requirements.missing_requirements()

    assert problems == ["the extension no_such_extension (>= 1.0.0) is not installed on the server"]


def test_the_check_is_registered_for_database_checks(db):
    registered = checks.registry.registry.get_checks(include_deployment_checks=False)

    assert server_requirements.check_server_requirements in registered
    assert connection.vendor == "postgresql"
