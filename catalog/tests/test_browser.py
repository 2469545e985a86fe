"""The site as a visitor sees it: headless Chromium (Debian's, through Playwright) against a live server.

Set MOVIESITE_SCREENSHOTS to a directory to keep screenshots of the pages under test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from catalog.models import Genre, Keyword, Movie, Person
from catalog.tests.helpers import make_movie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
UNREACHABLE_POSTER = "http://127.0.0.1:9/x.jpg"

FILMS = [
    {
        "title": "Saltwater Lanterns",
        "year": 1987,
        "genres": ("Drama", "Mystery"),
        "directors": ("Ines Marlowe",),
        "cast": ("Tomas Greer", "Ada Villanueva"),
        "overview": "A lighthouse keeper on a storm-bound island finds letters from a drowned sailor.",
    },
    {
        "title": "Dust Over Carver Creek",
        "year": 1962,
        "genres": ("Western",),
        "directors": ("Hollis Brandt",),
        "cast": ("Jeb Calloway", "Rosa Delgado"),
        "overview": "Two ranchers feud over the last well in a valley that has not seen rain for a year.",
    },
    {
        "title": "The Last Ride of Emmett Shaw",
        "year": 1971,
        "genres": ("Western", "Adventure"),
        "directors": ("Corinne Abel",),
        "cast": ("Walt Hennessy", "Mae Oduya"),
        "overview": "An ageing outlaw escorts a schoolteacher across the border to reclaim a stolen bell.",
    },
    {
        "title": "Orbit of Quiet Machines",
        "year": 2019,
        "genres": ("Science Fiction",),
        "directors": ("Kenji Okafor",),
        "cast": ("Lena Sorvik", "Idris Palmer"),
        "overview": "Maintenance robots on a derelict station wake up and try to finish a mission nobody remembers.",
    },
    {
        "title": "Pancakes at Midnight",
        "year": 2004,
        "genres": ("Comedy", "Romance"),
        "directors": ("Lotte Fairweather",),
        "cast": ("Benny Castellano", "Priya Nandakumar"),
        "overview": "A night-shift diner cook and a sleepless violinist trade recipes for lullabies.",
    },
]


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
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(autouse=True)
def fake_embeddings(settings: Settings) -> None:
    """Queries are encoded by the same deterministic backend as the films."""
    settings.EMBEDDING_BACKEND = "fake"


@pytest.fixture(autouse=True)
def empty_catalog(transactional_db: None) -> None:
    """No demo films, whatever ran before: only the first transactional test's clean-up removes them."""
    Movie.objects.all().delete()
    for model in (Genre, Keyword, Person):
        model.objects.all().delete()


@pytest.fixture
def films() -> list[Movie]:
    return [make_movie(embed_with="fake", **film) for film in FILMS]


@pytest.fixture
def save_screenshot() -> Callable[[Page, str], None]:
    directory = os.environ.get("MOVIESITE_SCREENSHOTS")

    def save(page: Page, name: str) -> None:
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=Path(directory) / f"{name}.png", full_page=True)

    return save


def card_titles(scope: Page | Locator) -> Locator:
    return scope.locator(".grid .card-title")


def search_for(page: Page, query: str) -> None:
    page.get_by_label("Search films").fill(query)
    page.get_by_label("Search films").press("Enter")
    page.wait_for_url(re.compile(r"[?&]q="))


def test_searching_a_title_shows_it_first(
    page: Page, films: list[Movie], save_screenshot: Callable[[Page, str], None]
) -> None:
    page.goto("/")
    search_for(page, "Dust Over Carver Creek")

    expect(page).to_have_title(re.compile("Dust Over Carver Creek"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Results for “Dust Over Carver Creek”")
    expect(card_titles(page).first).to_have_text("Dust Over Carver Creek")
    expect(page.get_by_label("Search films")).to_have_value("Dust Over Carver Creek")
    save_screenshot(page, "home-results-1280")


def test_keyword_mode_is_kept_in_the_url_and_lists_only_films_with_the_words(page: Page, films: list[Movie]) -> None:
    page.goto("/")
    modes = page.get_by_role("group", name="Search mode").get_by_role("radio")
    expect(modes).to_have_count(3)
    expect(page.get_by_role("radio", name="Hybrid", exact=True)).to_be_checked()
    page.get_by_label("Search films").fill("lighthouse island")
    page.get_by_role("radio", name="Keyword", exact=True).check()
    page.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"[?&]mode=keyword(&|$)"))
    expect(page.get_by_role("radio", name="Keyword", exact=True)).to_be_checked()
    expect(card_titles(page)).to_have_text(["Saltwater Lanterns"])


def test_ticking_a_genre_lists_only_films_of_that_genre(page: Page, films: list[Movie]) -> None:
    page.goto("/")
    page.get_by_text("Filters and order").click()
    page.get_by_label("Western", exact=True).check()
    page.get_by_role("button", name="Search").click()

    expect(page).to_have_url(re.compile(r"[?&]genre=western(&|$)"))
    expect(card_titles(page)).to_have_count(2)
    assert set(card_titles(page).all_inner_texts()) == {"Dust Over Carver Creek", "The Last Ride of Emmett Shaw"}
    expect(page.get_by_label("Western", exact=True)).to_be_checked()


def test_a_film_page_shows_its_facts_and_the_films_like_it(
    page: Page, films: list[Movie], save_screenshot: Callable[[Page, str], None]
) -> None:
    page.goto("/")
    page.get_by_role("link", name="Orbit of Quiet Machines", exact=True).click()

    expect(page).to_have_url(re.compile(r"/movies/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Orbit of Quiet Machines (2019)")
    expect(page.locator(".film dt", has_text="Directed by").locator("+ dd")).to_have_text("Kenji Okafor")
    similar = page.get_by_role("region", name="films like Orbit of Quiet Machines")
    expect(similar.get_by_role("heading")).to_have_text("4 films like Orbit of Quiet Machines")
    expect(card_titles(similar)).to_have_count(4)
    others = {film["title"] for film in FILMS} - {"Orbit of Quiet Machines"}
    assert set(card_titles(similar).all_inner_texts()) == others

    page.set_viewport_size(PHONE)
    expect(page.get_by_role("heading", level=1)).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    save_screenshot(page, "film-390")


def test_a_poster_that_cannot_load_gives_way_to_its_placeholder(page: Page) -> None:
    movie = make_movie(title="Harbour of Glass", genres=("Drama",), poster_url=UNREACHABLE_POSTER, embed_with="fake")

    for url in ("/", movie.get_absolute_url()):
        page.goto(url)
        poster = page.locator(".poster").first
        expect(poster.locator("img")).to_have_count(0)
        placeholder = poster.locator(".poster-placeholder")
        expect(placeholder).to_be_visible()
        expect(placeholder.locator(".poster-title")).to_have_text("Harbour of Glass")
        assert placeholder.evaluate(
            """(element) => {
                const box = element.getBoundingClientRect();
                const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
                return element.contains(top);
            }"""
        )


def test_a_keyboard_alone_can_search_and_open_a_film(page: Page, films: list[Movie]) -> None:
    page.goto("/")
    skip_link = page.get_by_role("link", name="Skip to content")
    page.keyboard.press("Tab")
    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Search films")).to_be_focused()

    page.keyboard.type("Pancakes at Midnight")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"[?&]q=Pancakes"))
    first_result = page.locator(".grid .card a").first
    expect(first_result).to_contain_text("Pancakes at Midnight")
    for _ in range(30):
        page.keyboard.press("Tab")
        if first_result.evaluate("(link) => link === document.activeElement"):
            break
    expect(first_result).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/movies/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Pancakes at Midnight (2004)")


def test_markup_in_a_title_is_shown_as_text_and_never_run(page: Page, films: list[Movie]) -> None:
    title = "<script>window.__pwned=1</script>"
    make_movie(title=title, genres=("Thriller",), directors=("Mallory Quist",), embed_with="fake")

    page.goto("/")
    expect(card_titles(page).filter(has_text=title)).to_have_count(1)
    search_for(page, title)
    expect(page).to_have_title(re.compile(re.escape(title)))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Results for “{title}”")
    expect(page.get_by_label("Search films")).to_have_value(title)
    expect(card_titles(page).first).to_have_text(title)
    assert page.evaluate("typeof window.__pwned") == "undefined"

    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{title} (2000)")
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_next_and_previous_walk_through_the_pages_of_films(page: Page) -> None:
    for number in range(1, 31):
        make_movie(title=f"Browse Film {number:02d}", year=1950 + number)
    first_page = [f"Browse Film {number:02d}" for number in range(1, 25)]
    second_page = [f"Browse Film {number:02d}" for number in range(25, 31)]

    page.goto("/")
    expect(page.locator(".results-heading .count")).to_have_text("30 films")
    expect(card_titles(page)).to_have_text(first_page)
    expect(page.get_by_role("link", name="Previous")).to_have_count(0)

    page.get_by_role("link", name="Next").click()
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    expect(page.locator(".pagination [aria-current=page]")).to_have_text("Page 2")
    expect(card_titles(page)).to_have_text(second_page)
    expect(page.get_by_role("link", name="Next")).to_have_count(0)

    page.get_by_role("link", name="Previous").click()
    expect(page).to_have_url(re.compile(r"[?&]page=1(&|$)"))
    expect(card_titles(page)).to_have_text(first_page)
