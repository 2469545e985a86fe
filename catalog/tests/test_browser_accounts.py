"""An account in a real browser: sign up, rate a film, bring a Letterboxd export, see "Because you liked" rows.

Set MOVIESITE_SCREENSHOTS to a directory (docs/screenshots) to keep screenshots of the account pages, taken of
the demo catalog with the real model by test_the_account_pages_fit_a_phone_and_a_desktop.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from catalog.models import Movie, Rating
from catalog.tests.browser import DESKTOP, PHONE
from catalog.tests.helpers import make_movie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("browser_site")]

PASSWORD = "a long enough passphrase 42"
FILMS = [
    ("Saltwater Lanterns", 1987, ("Drama", "Mystery"), "A lighthouse keeper finds letters from a drowned sailor."),
    ("Harbour of Letters", 1990, ("Drama", "Mystery"), "A postmistress on an island reads the sea's lost letters."),
    ("Dust Over Carver Creek", 1962, ("Western",), "Two ranchers feud over the last well in a dry valley."),
    ("The Last Ride of Emmett Shaw", 1971, ("Western",), "An ageing outlaw escorts a schoolteacher to the border."),
    ("Orbit of Quiet Machines", 2019, ("Science Fiction",), "Robots on a derelict station finish a lost mission."),
    ("Pancakes at Midnight", 2004, ("Comedy", "Romance"), "A diner cook and a violinist trade recipes for songs."),
]
EXPORT = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2024-01-02,Dust Over Carver Creek,1962,https://boxd.it/a,4.5\n"
    "2024-01-03,A Film Not Here,2001,https://boxd.it/b,3\n"
    "2024-01-04,Pancakes at Midnight,2004,https://boxd.it/c,lots\n"
)


def sign_up(page: Page, username: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Sign up").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_sign_up_rate_upload_and_see_the_row(page: Page, tmp_path: Path) -> None:
    for title, year, genres, overview in FILMS:
        make_movie(title=title, year=year, genres=genres, overview=overview, embed_with="fake", vote_count=100)
    sign_up(page, "cinephile")

    page.goto(Movie.objects.get(title="Saltwater Lanterns").get_absolute_url())
    page.get_by_label("Your rating").select_option(label="5 stars")
    page.get_by_role("button", name="Save rating").click()
    expect(page.get_by_label("Your rating")).to_have_value("5.0")

    export = tmp_path / "ratings.csv"
    export.write_text(EXPORT)
    page.get_by_role("link", name="Your ratings").click()
    page.get_by_label("Ratings export (CSV)").set_input_files(str(export))
    page.get_by_role("button", name="Upload").click()
    result = page.locator("#import-result")
    expect(result).to_contain_text("1 of 3 rows matched a film")
    expect(result).to_contain_text("Line 4:")
    expect(page.get_by_role("table")).to_contain_text("Dust Over Carver Creek")

    page.get_by_role("link", name="Browse").click()
    row = page.get_by_role("region", name="Because you liked Saltwater Lanterns")
    expect(row).to_be_visible()
    shown = row.locator(".card-title").all_inner_texts()
    assert shown and "Saltwater Lanterns" not in shown and "Dust Over Carver Creek" not in shown
    assert Rating.objects.filter(user__username="cinephile").count() == 2


def test_favourites_become_ratings_at_log_in(page: Page) -> None:
    for title, year, genres, overview in FILMS[:2]:
        make_movie(title=title, year=year, genres=genres, overview=overview, embed_with="fake")
    page.goto(Movie.objects.get(title="Harbour of Letters").get_absolute_url())
    page.get_by_role("button", name="Add to favourites").click()
    expect(page.get_by_role("button", name="Remove from favourites")).to_be_visible()
    sign_up(page, "visitor")
    expect(page.get_by_role("status").first).to_contain_text("became 4-star ratings")
    page.goto(Movie.objects.get(title="Harbour of Letters").get_absolute_url())
    expect(page.get_by_label("Your rating")).to_have_value("4.0")


def test_the_account_pages_fit_a_phone_and_a_desktop(
    browser: Browser, live_server: LiveServer, settings: Settings, tmp_path: Path
) -> None:
    directory = os.environ.get("MOVIESITE_SCREENSHOTS")
    if not directory:
        pytest.skip("MOVIESITE_SCREENSHOTS is not set (this test only takes the README's screenshots)")
    settings.EMBEDDING_BACKEND = "local"
    call_command("import_movies", django_settings.BASE_DIR / "fixtures" / "demo_movies.csv", stdout=io.StringIO())
    export = tmp_path / "ratings.csv"
    export.write_text(
        "Date,Name,Year,Letterboxd URI,Rating\n2024-01-02,The Godfather,1972,x,5\n2024-01-03,Alien,1979,y,4.5\n"
        "2024-01-04,Jaws,1975,z,4\n2024-01-05,Titanic,1997,w,1.5\n2024-01-06,A Film Not Here,2001,v,3\n"
    )
    for number, viewport in enumerate((PHONE, DESKTOP)):
        context = browser.new_context(base_url=live_server.url, viewport=viewport)
        context.set_default_timeout(30_000)
        page = context.new_page()
        width = viewport["width"]
        page.goto("/accounts/signup/")
        page.screenshot(path=Path(directory) / f"signup-{width}.png")
        sign_up(page, f"reader{number}")
        page.get_by_role("link", name="Your ratings").click()
        page.get_by_label("Ratings export (CSV)").set_input_files(str(export))
        page.get_by_role("button", name="Upload").click()
        expect(page.locator("#import-result")).to_be_visible()
        page.screenshot(path=Path(directory) / f"ratings-{width}.png")
        page.goto("/")
        expect(page.get_by_role("region", name="Because you liked The Godfather")).to_be_visible()
        page.screenshot(path=Path(directory) / f"personal-{width}.png")
        context.close()
