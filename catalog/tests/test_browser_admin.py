"""A curator's admin session in headless Chromium (Debian's, through Playwright) against a live server.

Set MOVIESITE_SCREENSHOTS to a directory to keep screenshots of the admin pages under test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from catalog.models import Credit, Movie
from catalog.tests.browser import DESKTOP, PHONE
from catalog.tests.helpers import make_movie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("browser_site")]

USERNAME, PASSWORD = "curator", "a-long-password-1"


@pytest.fixture
def curator(transactional_db: None) -> None:
    get_user_model().objects.create_superuser(USERNAME, "curator@example.com", PASSWORD)


@pytest.fixture
def save_screenshot() -> Callable[[Page, str], None]:
    directory = os.environ.get("MOVIESITE_SCREENSHOTS")

    def save(page: Page, name: str) -> None:
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=Path(directory) / f"{name}.png", full_page=True)

    return save


def log_in(page: Page) -> None:
    page.goto("/admin/catalog/movie/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Select movie to change")


def search_films(page: Page, query: str) -> None:
    page.locator("#searchbar").fill(query)
    page.locator("#searchbar").press("Enter")
    page.wait_for_url(re.compile(r"[?&]q="))


def run_action(page: Page, label: str) -> None:
    page.locator("select[name=action]").select_option(label=label)
    page.get_by_role("button", name="Go").click()


def public_titles(page: Page, query: str) -> list[str]:
    """The titles the public search lists for `query`, matched by keyword."""
    page.goto(f"/?q={query}&mode=keyword")
    return page.locator(".grid .card-title").all_inner_texts()


def test_a_curator_hides_a_film_and_the_public_loses_it(
    page: Page, curator: None, save_screenshot: Callable[[Page, str], None]
) -> None:
    film = make_movie(
        title="Saltwater Lanterns",
        year=1987,
        genres=("Drama",),
        overview="A lighthouse keeper finds letters from a drowned sailor.",
        poster_url="http://127.0.0.1:9/saltwater.jpg",
        embed_with="fake",
    )
    make_movie(title="Saltwater Taffy", year=2003, genres=("Comedy",), embed_with="fake")
    assert "Saltwater Lanterns" in public_titles(page, "saltwater")

    log_in(page)
    search_films(page, "Saltwater")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(2)
    # The unreachable poster gives way to its placeholder; the other film never had one.
    expect(page.locator(".movie-thumb img")).to_have_count(0)
    expect(page.get_by_role("img", name="No poster for Saltwater Taffy")).to_be_visible()
    expect(rows.filter(has_text="Saltwater Lanterns").locator(".field-vector")).to_have_text("fresh")
    # With the navigation folded away, every column fits beside the filters at 1280 px.
    page.get_by_role("button", name="Toggle navigation").click()
    expect(rows.first.locator(".field-featured")).to_be_in_viewport()
    save_screenshot(page, "admin-films-1280")

    page.get_by_label("Select this object for an action - Saltwater Lanterns (1987)").check()
    run_action(page, "Hide selected films from the public")

    expect(page.locator(".messagelist")).to_contain_text("1 film hidden.")
    hidden_cell = rows.filter(has_text="Saltwater Lanterns").locator(".field-hidden input")
    expect(hidden_cell).to_be_checked()
    page.set_viewport_size(PHONE)
    save_screenshot(page, "admin-films-390")
    page.set_viewport_size(DESKTOP)

    response = page.goto(film.get_absolute_url())
    assert response is not None and response.status == 404
    assert public_titles(page, "saltwater") == ["Saltwater Taffy"]


def test_a_curator_merges_two_duplicates_keeping_the_one_with_more_votes(
    page: Page, curator: None, save_screenshot: Callable[[Page, str], None]
) -> None:
    voted = make_movie(
        title="Dust Over Carver Creek",
        year=1962,
        vote_count=340,
        imdb_id="tt7000001",
        genres=("Western",),
        cast=("Jeb Calloway",),
        embed_with="fake",
    )
    sparse = make_movie(
        title="Dust Over Carver Creek",
        year=1962,
        vote_count=4,
        tmdb_id=7000002,
        directors=("Hollis Brandt",),
        cast=("Jeb Calloway", "Rosa Delgado"),
        overview="Two ranchers feud over the last well in a dry valley.",
        embed_with="fake",
    )
    make_movie(title="Carver Creek Revisited", year=1990, embed_with="fake")

    log_in(page)
    search_films(page, "Dust Over Carver")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    page.get_by_label("Select all objects on this page for an action").check()
    run_action(page, "Merge selected duplicates into one film")

    expect(page.get_by_role("heading", level=1)).to_have_text("Merge duplicate films")
    keep_voted = page.get_by_role("radio", name=f"Dust Over Carver Creek (1962), id {voted.pk}")
    expect(keep_voted).to_be_checked()
    expect(page.get_by_role("radio", name=f"Dust Over Carver Creek (1962), id {sparse.pk}")).not_to_be_checked()
    expect(page.get_by_role("row", name=re.compile(f"id {sparse.pk}"))).to_contain_text("7000002")
    save_screenshot(page, "admin-merge-1280")
    page.get_by_role("button", name="Merge into the chosen film").click()

    expect(page.locator(".messagelist")).to_contain_text(
        f"Merged “Dust Over Carver Creek (1962)” (id {sparse.pk}) into “Dust Over Carver Creek (1962)”"
    )
    expect(page.locator(".messagelist")).to_contain_text("is stale after the merge")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list .field-vector")).to_have_text("stale")

    assert not Movie.objects.filter(pk=sparse.pk).exists()
    kept = Movie.objects.get(pk=voted.pk)
    assert (kept.imdb_id, kept.tmdb_id, kept.overview) == ("tt7000001", 7000002, sparse.overview)
    assert sorted(Credit.objects.filter(movie=kept).values_list("role", "person__name")) == [
        ("cast", "Jeb Calloway"),
        ("cast", "Rosa Delgado"),
        ("director", "Hollis Brandt"),
    ]
    # The public finds the one film left by a name only the deleted duplicate had.
    assert public_titles(page, "Rosa Delgado") == ["Dust Over Carver Creek"]

    # The stale vector is re-embedded from the list.
    page.goto("/admin/catalog/movie/?q=Dust+Over+Carver")
    page.get_by_label("Select this object for an action - Dust Over Carver Creek (1962)").check()
    run_action(page, "Re-embed selected films now")
    expect(page.locator(".messagelist")).to_contain_text("1 film re-embedded with fake-hashed-words")
    expect(page.locator("#result_list .field-vector")).to_have_text("fresh")
