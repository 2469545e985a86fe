"""Test set-up shared by every app: the demo catalog, embedded with the real model, loaded once per run."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import call_command

DEMO_CATALOG = settings.BASE_DIR / "fixtures" / "demo_movies.csv"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test sees the demo catalog (committed once; each test's own changes roll back)."""
    with django_db_blocker.unblock():
        call_command("import_movies", DEMO_CATALOG, stdout=io.StringIO(), stderr=io.StringIO())


def pytest_collection_modifyitems(items):
    # Browser tests need a live server, whose transactional clean-up empties the tables afterwards; run them
    # after everything that relies on the demo catalog.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
