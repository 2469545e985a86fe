"""The site as a visitor sees it: headless Chromium (Debian's, through Playwright) against a live server.

Set MOVIESITE_SCREENSHOTS to a directory (docs/screenshots) to keep the screenshots that
test_every_page_fits_a_phone_and_a_desktop takes of the demo catalog.
"""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import Browser, Locator, Page, expect
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from catalog.models import ImportedRating, Movie
from catalog.tests.browser import DESKTOP, PHONE
from catalog.tests.helpers import make_movie
from recommender import cf
from recommender.tfidf import fit_tfidf

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("browser_site")]

# Posters must be http(s) on a public host (issue 17); this one's name never resolves.
UNREACHABLE_POSTER = "https://posters.invalid/x.jpg"

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


@pytest.fixture
def films() -> list[Movie]:
    return [make_movie(embed_with="fake", **film) for film in FILMS]


def card_titles(scope: Page | Locator) -> Locator:
    return scope.locator(".grid .card-title")


def shelf_titles(page: Page, name: str) -> Locator:
    """The film titles in one of the home page's rows ("Your favourites", "Recommended for you")."""
    return page.get_by_role("region", name=name).locator(".row .card-title")


def search_for(page: Page, query: str) -> None:
    page.get_by_label("Search films").fill(query)
    page.get_by_label("Search films").press("Enter")
    page.wait_for_url(re.compile(r"[?&]q="))


def test_searching_a_title_shows_it_first(page: Page, films: list[Movie]) -> None:
    page.goto("/")
    search_for(page, "Dust Over Carver Creek")

    expect(page).to_have_title(re.compile("Dust Over Carver Creek"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Results for “Dust Over Carver Creek”")
    expect(card_titles(page).first).to_have_text("Dust Over Carver Creek")
    expect(page.get_by_label("Search films")).to_have_value("Dust Over Carver Creek")


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


def test_a_film_page_shows_its_facts_and_the_films_like_it(page: Page, films: list[Movie]) -> None:
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


def test_a_poster_that_cannot_load_gives_way_to_its_placeholder(page: Page) -> None:
    movie = make_movie(title="Harbour of Glass", genres=("Drama",), poster_url=UNREACHABLE_POSTER, embed_with="fake")
    # The request fails at once, as offline: left to the resolver, a name lookup could outlast the assertions'
    # 5 s (it did once, on a loaded machine).
    refused: list[str] = []

    def refuse(route) -> None:
        refused.append(route.request.url)
        route.abort("namenotresolved")

    page.route(f"{UNREACHABLE_POSTER}*", refuse)

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
    assert refused  # the poster was asked for, and failed


def test_a_poster_that_loads_covers_its_placeholder(page: Page) -> None:
    # A 1x1 GIF served by the browser itself: a poster that loads without the network this machine lacks.
    gif = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
    page.route("https://posters.example.com/**", lambda route: route.fulfill(body=gif, content_type="image/gif"))
    poster_url = "https://posters.example.com/harbour.gif"
    movie = make_movie(title="Harbour of Glass", genres=("Drama",), poster_url=poster_url, embed_with="fake")

    page.goto(movie.get_absolute_url())
    poster = page.get_by_role("img", name="Poster of Harbour of Glass")
    expect(poster).to_be_visible()
    assert poster.evaluate("(image) => image.complete && image.naturalWidth > 0")
    assert poster.evaluate(
        """(image) => {
            const box = image.getBoundingClientRect();
            return document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2) === image;
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
    expect(page.locator(".pagination [aria-current=page]")).to_have_text("Page 2 of 2")
    expect(card_titles(page)).to_have_text(second_page)
    expect(page.get_by_role("link", name="Next")).to_have_count(0)

    page.get_by_role("link", name="Previous").click()
    expect(page).to_have_url(re.compile(r"[?&]page=1(&|$)"))
    expect(card_titles(page)).to_have_text(first_page)


def open_film(page: Page, title: str) -> None:
    page.goto("/")
    page.locator(".grid").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)


def has_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")


def test_the_hybrid_balance_slider_shows_in_hybrid_mode_and_is_sent_with_the_search(
    page: Page, films: list[Movie]
) -> None:
    page.goto("/")
    slider = page.get_by_role("slider", name="Hybrid balance")
    expect(slider).to_be_visible()
    expect(slider).to_have_value("0.5")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(slider).to_have_value("0.7")
    expect(page.locator(".alpha output")).to_have_text("0.7")
    expect(slider).to_have_attribute("aria-valuetext", "0.7, more meaning")

    page.get_by_label("Search films").fill("robots on a derelict station")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]alpha=0\.7(&|$)"))
    expect(card_titles(page).first).to_have_text("Orbit of Quiet Machines")
    expect(page.get_by_role("slider", name="Hybrid balance")).to_have_value("0.7")

    page.get_by_role("radio", name="Semantic", exact=True).check()
    expect(page.get_by_role("slider", name="Hybrid balance")).to_be_hidden()
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]mode=semantic(&|$)"))
    assert "alpha=" not in page.url
    expect(card_titles(page).first).to_have_text("Orbit of Quiet Machines")


def test_a_decade_and_an_ordering_narrow_and_sort_the_films(page: Page, films: list[Movie]) -> None:
    page.goto("/")
    page.get_by_text("Filters and order").click()
    page.get_by_label("Decade").select_option("1960")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"[?&]decade=1960(&|$)"))
    expect(card_titles(page)).to_have_text(["Dust Over Carver Creek"])

    page.get_by_label("Decade").select_option("")
    page.get_by_label("From year").fill("1970")
    page.get_by_label("Sort by").select_option(label="Newest first")
    page.get_by_role("button", name="Apply filters").click()
    expect(card_titles(page)).to_have_text(
        ["Orbit of Quiet Machines", "Pancakes at Midnight", "Saltwater Lanterns", "The Last Ride of Emmett Shaw"]
    )


def test_a_wrong_year_range_says_what_is_wrong(page: Page, films: list[Movie]) -> None:
    response = page.goto("/?year_min=2000&year_max=1990")
    assert response is not None and response.status == 400
    expect(page.get_by_role("alert")).to_have_text("“From year” must not be after “To year”.")
    expect(page.locator(".filters")).to_have_attribute("open", "")


def test_autocomplete_suggests_films_and_the_keyboard_opens_one(page: Page, films: list[Movie]) -> None:
    page.goto("/")
    box = page.get_by_role("combobox", name="Search films")
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press_sequentially("orbit of", delay=30)

    listbox = page.get_by_role("listbox", name="Suggested films")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(box).to_have_attribute("aria-controls", listbox.get_attribute("id") or "?")
    options = listbox.get_by_role("option")
    expect(options.first).to_have_text("Orbit of Quiet Machines (2019)")

    box.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", options.first.get_attribute("id") or "?")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".*"))
    expect(box).to_be_focused()

    box.press("ArrowDown")
    expect(listbox).to_be_visible()
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/movies/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Orbit of Quiet Machines (2019)")


def test_enter_without_a_chosen_suggestion_searches_and_a_click_opens_a_film(page: Page, films: list[Movie]) -> None:
    page.goto("/")
    box = page.get_by_role("combobox", name="Search films")
    box.press_sequentially("pancakes", delay=30)
    expect(page.get_by_role("option", name="Pancakes at Midnight (2004)")).to_be_visible()
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]q=pancakes"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Results for “pancakes”")

    box = page.get_by_role("combobox", name="Search films")
    box.fill("")
    box.press_sequentially("dust over", delay=30)
    page.get_by_role("option", name="Dust Over Carver Creek (1962)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dust Over Carver Creek (1962)")


def test_suggestions_show_markup_in_titles_as_text(page: Page, films: list[Movie]) -> None:
    make_movie(title="<img src=x onerror=window.__pwned=1> Orbit", year=2020)
    page.goto("/")
    page.get_by_role("combobox", name="Search films").press_sequentially("<img", delay=30)
    expect(page.get_by_role("option").first).to_have_text("<img src=x onerror=window.__pwned=1> Orbit (2020)")
    assert page.evaluate("typeof window.__pwned") == "undefined"


def test_switching_the_similar_method_reranks_and_explains(page: Page, films: list[Movie]) -> None:
    fit_tfidf(show_progress=False)
    open_film(page, "Dust Over Carver Creek")
    methods = page.get_by_role("navigation", name="Similarity method")
    # The default blends co-likes with content; with no ratings imported, it is content alone.
    expect(methods.locator("[aria-current=page]")).to_have_text("People and content")
    similar = page.get_by_role("region", name="films like Dust Over Carver Creek")
    expect(card_titles(similar)).to_have_count(4)

    methods.get_by_role("link", name="Exemplar SVM").click()
    expect(page).to_have_url(re.compile(r"\?method=svm#similar$"))
    expect(methods.locator("[aria-current=page]")).to_have_text("Exemplar SVM")
    expect(card_titles(similar)).to_have_count(4)
    expect(page.locator(".method-help")).to_contain_text("exemplar SVM")
    expect(similar.locator(".card-why").first).to_contain_text("Shares western")

    methods.get_by_role("link", name="Shared words (TF-IDF)").click()
    expect(page).to_have_url(re.compile(r"\?method=tfidf#similar$"))
    expect(methods.locator("[aria-current=page]")).to_have_text("Shared words (TF-IDF)")
    expect(card_titles(similar).first).to_have_text("The Last Ride of Emmett Shaw")
    expect(similar.locator(".card-why").first).to_contain_text("Shared words:")


def test_the_people_who_liked_this_switch_ranks_by_imported_ratings_and_says_how_many(
    page: Page, films: list[Movie]
) -> None:
    dust, lanterns, emmett = (Movie.objects.get(title=title) for title in FILMS_BY_TITLE)
    # Twelve people like Dust Over Carver Creek; ten of them like The Last Ride of Emmett Shaw too, and two
    # Saltwater Lanterns.
    ratings = [ImportedRating(source="test", user=user, movie=dust, rating=5) for user in range(12)]
    ratings += [ImportedRating(source="test", user=user, movie=emmett, rating=4) for user in range(10)]
    ratings += [ImportedRating(source="test", user=user, movie=lanterns, rating=4) for user in range(10, 12)]
    ImportedRating.objects.bulk_create(ratings)
    cf.refresh()

    open_film(page, "Dust Over Carver Creek")
    methods = page.get_by_role("navigation", name="Similarity method")
    methods.get_by_role("link", name="People who liked this also liked").click()
    expect(page).to_have_url(re.compile(r"\?method=cf#similar$"))
    expect(methods.locator("[aria-current=page]")).to_have_text("People who liked this also liked")
    expect(page.locator(".method-help")).to_contain_text("people who liked this film")
    similar = page.get_by_role("region", name="films like Dust Over Carver Creek")
    expect(card_titles(similar)).to_have_text(["The Last Ride of Emmett Shaw", "Saltwater Lanterns"])
    expect(similar.locator(".card-why").first).to_contain_text(
        "Liked by 10 of the 12 people who liked Dust Over Carver Creek"
    )

    # Saltwater Lanterns has two likers: too few for its own list, so its people switch shows content.
    open_film(page, "Saltwater Lanterns")
    page.get_by_role("link", name="People who liked this also liked").click()
    expect(card_titles(page.get_by_role("region", name="films like Saltwater Lanterns"))).to_have_count(4)


FILMS_BY_TITLE = ("Dust Over Carver Creek", "Saltwater Lanterns", "The Last Ride of Emmett Shaw")


def test_two_favourites_bring_recommendations_and_can_be_removed(page: Page, films: list[Movie]) -> None:
    for title in ("Dust Over Carver Creek", "Saltwater Lanterns"):
        open_film(page, title)
        button = page.get_by_role("button", name="Add to favourites")
        button.click()
        expect(page.get_by_role("button", name="Remove from favourites")).to_be_visible()
        expect(page.get_by_role("status").filter(has_text="Added to your favourites.")).to_have_count(1)
        expect(page).to_have_url(re.compile(r"/movies/\d+/$"))  # updated in place, no reload
        expect(page.get_by_role("link", name="Your favourites and recommendations")).to_be_visible()

    page.get_by_role("link", name="Your favourites and recommendations").click()
    expect(shelf_titles(page, "Your favourites")).to_have_text(["Saltwater Lanterns", "Dust Over Carver Creek"])
    recommended = page.get_by_role("region", name="Recommended for you")
    expect(shelf_titles(page, "Recommended for you")).to_have_count(3)
    assert set(shelf_titles(page, "Recommended for you").all_inner_texts()) == {
        "The Last Ride of Emmett Shaw",
        "Orbit of Quiet Machines",
        "Pancakes at Midnight",
    }
    expect(recommended.locator(".card-why").first).to_contain_text("Because you liked")

    favourites = page.get_by_role("region", name="Your favourites")
    favourites.get_by_role("button", name="Remove Saltwater Lanterns from your favourites").click()
    expect(shelf_titles(page, "Your favourites")).to_have_text(["Dust Over Carver Creek"])


def test_without_javascript_search_favourites_and_methods_still_work(
    browser: Browser, live_server: LiveServer, films: list[Movie]
) -> None:
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    expect(page.get_by_role("combobox")).to_have_count(0)  # a plain search box
    page.get_by_label("Search films").fill("lighthouse")
    page.get_by_role("slider", name="Hybrid balance").fill("0.2")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]alpha=0\.2(&|$)"))
    expect(card_titles(page).first).to_have_text("Saltwater Lanterns")

    page.get_by_role("link", name="Saltwater Lanterns", exact=True).click()
    page.get_by_role("button", name="Add to favourites").click()
    expect(page.get_by_role("button", name="Remove from favourites")).to_be_visible()
    page.get_by_role("link", name="Exemplar SVM").click()
    expect(page.get_by_role("navigation", name="Similarity method").locator("[aria-current=page]")).to_have_text(
        "Exemplar SVM"
    )
    page.get_by_role("link", name="moviesite").click()
    expect(shelf_titles(page, "Your favourites")).to_have_text(["Saltwater Lanterns"])
    expect(shelf_titles(page, "Recommended for you")).to_have_count(4)
    assert not has_horizontal_scroll(page)
    context.close()


def focus_by_tab(page: Page, target: Locator, *, limit: int = 60) -> None:
    """Press Tab until `target` has the focus, as a keyboard user would; fail if it never does."""
    for _ in range(limit):
        if target.evaluate("(element) => element === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(target).to_be_focused()
    outline = target.evaluate("(element) => getComputedStyle(element).outlineStyle")
    assert outline != "none", "the focused element shows no focus ring"


def test_a_keyboard_only_session_searches_favourites_and_switches_method(page: Page, films: list[Movie]) -> None:
    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    box = page.get_by_label("Search films")
    expect(box).to_be_focused()
    page.keyboard.type("western")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"[?&]q=western"))

    first_result = page.locator(".grid .card a").first
    focus_by_tab(page, first_result)
    title = first_result.locator(".card-title").inner_text()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)

    favourite = page.get_by_role("button", name="Add to favourites")
    focus_by_tab(page, favourite)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Remove from favourites")).to_be_focused()

    svm = page.get_by_role("link", name="Exemplar SVM")
    focus_by_tab(page, svm)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"\?method=svm#similar$"))
    expect(page.get_by_role("link", name="Exemplar SVM")).to_have_attribute("aria-current", "page")

    home = page.get_by_role("link", name="moviesite")
    focus_by_tab(page, home)
    page.keyboard.press("Enter")
    expect(shelf_titles(page, "Your favourites")).to_have_text([title])


def fits_and_is_kept(page: Page, name: str, *, height: int | None = None) -> None:
    """No sideways scrolling; a screenshot `name-<width>.png` (the window, or the page's top `height` pixels)
    kept in MOVIESITE_SCREENSHOTS when it is set."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert not has_horizontal_scroll(page), f"{name} scrolls sideways at {width} px"
    if directory := os.environ.get("MOVIESITE_SCREENSHOTS"):
        Path(directory).mkdir(parents=True, exist_ok=True)
        clip = {"x": 0, "y": 0, "width": width, "height": height} if height else None
        page.screenshot(path=Path(directory) / f"{name}-{width}.png", full_page=bool(height), clip=clip)


def test_every_page_fits_a_phone_and_a_desktop(browser: Browser, live_server: LiveServer, settings: Settings) -> None:
    """The demo catalog's home page (with two favourites), a search, a film and the admin's films list, at 390
    and 1280 pixels wide."""
    settings.EMBEDDING_BACKEND = "local"
    call_command("import_movies", django_settings.BASE_DIR / "fixtures" / "demo_movies.csv", stdout=io.StringIO())
    get_user_model().objects.create_superuser("curator", "curator@example.com", "a-long-screenshot-password")

    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(base_url=live_server.url, viewport=viewport)
        context.set_default_timeout(20_000)
        page = context.new_page()
        for title in ("The Godfather", "Goodfellas"):
            page.goto(Movie.objects.get(title=title).get_absolute_url())
            page.get_by_role("button", name="Add to favourites").click()
            expect(page.get_by_role("button", name="Remove from favourites")).to_be_visible()
        page.goto("/")
        expect(shelf_titles(page, "Recommended for you").first).to_be_visible()
        fits_and_is_kept(page, "home")

        search_for(page, "a shark terrorizes a beach town")
        expect(card_titles(page).first).to_have_text("Jaws")
        fits_and_is_kept(page, "results")

        page.goto(Movie.objects.get(title="The Godfather").get_absolute_url())
        expect(page.get_by_role("heading", name="40 films like The Godfather")).to_be_attached()
        fits_and_is_kept(page, "film", height=1400 if viewport == DESKTOP else None)

        page.goto("/admin/login/?next=/admin/catalog/movie/")
        page.get_by_label("Username").fill("curator")
        page.get_by_label("Password").fill("a-long-screenshot-password")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#result_list")).to_be_visible()
        fits_and_is_kept(page, "admin")
        context.close()
