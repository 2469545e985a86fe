"""Fixtures of the browser tests (test_browser.py, test_browser_admin.py): headless Chromium through Playwright
against pytest-django's live server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from catalog.models import Genre, Keyword, Movie, Person
from catalog.tests.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Browser tests need Debian's Chromium at {CHROMIUM}: run `apt-get install -y chromium` as root.",
            pytrace=False,
        )
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        # Playwright's sync API keeps an event loop running in this thread, which Django's async-safety check
        # takes for an async context; the ORM calls made here are synchronous.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A desktop-sized page on the live server; the test fails if the page's JavaScript throws."""
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def browser_site(settings: Settings, transactional_db: None) -> None:
    """An empty catalog whatever ran before (only the first transactional test's clean-up removes the demo
    films), and films and queries encoded by the deterministic backend, so nothing waits on the model."""
    settings.EMBEDDING_BACKEND = "fake"
    Movie.objects.all().delete()
    for model in (Genre, Keyword, Person):
        model.objects.all().delete()
