"""Search modes and filters: plumbing on films made here with the fake encoder, quality on the demo catalog."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import search
from catalog.models import Movie
from catalog.tests.helpers import make_movie, titles
from recommender.similar import similar_films

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_films(settings):
    settings.EMBEDDING_BACKEND = "fake"
    films = {
        "comet": make_movie(
            title="Comet Harvest", year=1981, genres=("Science Fiction",), directors=("Lena Brook",),
            cast=("Omar Vidal",), overview="Miners chase a comet across the outer belt.", original_language="en",
            vote_count=500, embed_with="fake",
        ),
        "orchard": make_movie(
            title="Orchard of Salt", year=1995, genres=("Drama",), directors=("Lena Brook",),
            cast=("Ruth Amsel",), overview="Two sisters inherit a failing orchard by the sea.", original_language="fr",
            vote_count=50, embed_with="fake",
        ),
        "heist": make_movie(
            title="Glass Vault", year=2010, genres=("Crime", "Thriller"), directors=("Paul Ekberg",),
            cast=("Omar Vidal",), overview="A crew plans to rob a glass vault under a casino.", original_language="en",
            vote_count=5000, embed_with="fake",
        ),
    }  # fmt: skip
    return films


def own(films: dict) -> Movie.objects.__class__:
    return Movie.objects.filter(pk__in=[movie.pk for movie in films.values()])


def test_keyword_mode_matches_words_in_any_weighted_field(fake_films):
    page = own(fake_films).search("omar vidal", mode="keyword")
    assert set(titles(page)) == {"Comet Harvest", "Glass Vault"}
    assert all("keyword" in movie.matched for movie in page.results)


def test_keyword_mode_understands_websearch_syntax(fake_films):
    assert titles(own(fake_films).search("vidal -casino", mode="keyword")) == ["Comet Harvest"]
    assert titles(own(fake_films).search('"failing orchard"', mode="keyword")) == ["Orchard of Salt"]
    assert set(titles(own(fake_films).search("comet OR casino", mode="keyword"))) == {"Comet Harvest", "Glass Vault"}


def test_keyword_mode_tolerates_a_typo_in_a_title(fake_films):
    assert titles(own(fake_films).search("orchrd of salt", mode="keyword"))[0] == "Orchard of Salt"


@pytest.fixture
def short_titles(settings) -> Movie.objects.__class__:
    settings.EMBEDDING_BACKEND = "fake"
    films = [
        make_movie(title=title, overview=f"A film called {title}.", vote_count=votes, embed_with="fake")
        for title, votes in [
            ("Rust", 300),
            ("Trust", 900),
            ("Rusty Knife", 50),
            ("Mama", 400),
            ("Emma", 800),
            ("Rust Belt Chronicles", 20),
        ]
    ]
    return Movie.objects.filter(pk__in=[film.pk for film in films])


def title_statements(statements: list[dict]) -> list[str]:
    return [query["sql"] for query in statements if "WORD_SIMILARITY" in query["sql"]]


@pytest.mark.parametrize("query", ["rsut", "uRst", "The Rsut"])
def test_a_short_title_with_two_neighbouring_letters_swapped_comes_first(short_titles, query):
    # "rsut" shares one trigram of five with "rust": only the swapped word, looked up again, finds it.
    assert titles(short_titles.search(query, mode="keyword"))[0] == "Rust"
    assert titles(short_titles.search(query, mode="hybrid"))[0] == "Rust"


def test_a_swap_as_close_as_another_typo_ranks_beside_it(short_titles):
    ranked = search.title_scores(short_titles, "amma", limit=10)
    by_pk = dict(short_titles.values_list("pk", "title"))
    # "emma" (one letter replaced) and "mama" (two swapped) are each one edit from "amma".
    assert {by_pk[pk] for pk, _ in ranked[:2]} == {"Emma", "Mama"}
    assert ranked[0][1] == ranked[1][1]


def test_the_swapped_words_add_only_titles_the_query_is_a_typo_of(short_titles):
    by_pk = dict(short_titles.values_list("pk", "title"))
    # "Rusty Knife" holds "rust" but is no typo of "rsut": it stays out, as the trigrams left it.
    assert [by_pk[pk] for pk, _ in search.title_scores(short_titles, "rsut", limit=10)] == ["Rust", "Trust"]


def test_the_second_look_reads_only_titles_short_enough_to_be_a_typo_of_the_query(short_titles):
    # Titles holding "rust" ("rsut" swapped back) of at most 4 + 2 edits + 8 letters of article and punctuation.
    rows = search.swap_rows(short_titles, "rsut", limit=10, swaps=search.swapped_words("rsut"))
    assert {title for _, _, title in rows} == {"Rust", "Trust", "Rusty Knife"}


def test_a_title_that_decides_costs_no_second_look(short_titles):
    with CaptureQueriesContext(connection) as captured:
        ranked = search.title_scores(short_titles, "Trust", limit=10)
    assert ranked[0][0] == short_titles.get(title="Trust").pk
    assert len(title_statements(captured.captured_queries)) == 1
    with CaptureQueriesContext(connection) as captured:
        search.title_scores(short_titles, "rsut", limit=10)
    statements = title_statements(captured.captured_queries)
    assert len(statements) == 2 and "ILIKE ANY" in statements[1]


def test_the_swapped_words_of_a_short_query():
    assert search.swapped_words("rsut") == ["rstu", "rust", "srut"]
    # A word of three letters has no swap to look up by (one trigram: thousands of titles at a million films).
    assert search.swapped_words("teh rsut") == ["rstu", "rust", "srut"]
    assert search.swapped_words("a very long query") == []
    # A query folding to nothing is kept as typed: its "%" and "_" are no word to look up (ILIKE's wildcards).
    assert search.swapped_words("%_%_") == [] and search.swapped_words("東京物語") == [
        "京東物語",
        "東京語物",
        "東物京語",
    ]


def test_semantic_mode_ranks_every_embedded_film_by_vector(fake_films):
    page = own(fake_films).search("sisters inherit orchard sea", mode="semantic")
    assert titles(page)[0] == "Orchard of Salt"
    assert page.count == 3
    assert page.results[0].matched == ["semantic"]


def test_hybrid_mode_fuses_both_and_alpha_moves_the_balance(fake_films):
    # Not the title alone: a query its title decides ("glass vault") is not encoded (test_search_title_decides.py).
    page = own(fake_films).search("glass vault casino", mode="hybrid")
    assert titles(page)[0] == "Glass Vault"
    assert set(page.results[0].matched) == {"keyword", "title", "semantic"}
    assert 0 <= page.results[-1].score < page.results[0].score <= 1
    only_semantic = own(fake_films).search("glass vault", mode="hybrid", alpha=1.0)
    assert all(movie.matched == ["semantic"] for movie in only_semantic.results)


def test_filters_apply_to_every_mode(fake_films):
    base = own(fake_films)
    for mode in ("keyword", "semantic", "hybrid"):
        assert titles(base.filter_by(director="brook").search("lena brook", mode=mode, ordering="year")) == [
            "Comet Harvest",
            "Orchard of Salt",
        ]
        assert titles(base.filter_by(genres=["drama"]).search("lena brook", mode=mode)) == ["Orchard of Salt"]
        assert titles(base.filter_by(year_min=2000).search("omar vidal", mode=mode)) == ["Glass Vault"]
        assert titles(base.filter_by(actor="vidal", language="en", year_max=1990).search("vidal", mode=mode)) == [
            "Comet Harvest"
        ]


def test_an_empty_query_browses_featured_first_then_popular(fake_films):
    fake_films["orchard"].featured = True
    fake_films["orchard"].save()
    page = own(fake_films).search("   ")
    assert titles(page) == ["Orchard of Salt", "Glass Vault", "Comet Harvest"]
    assert page.count == 3


def test_pagination_slices_the_ranked_list(fake_films):
    everything = titles(own(fake_films).search("", limit=10))
    assert titles(own(fake_films).search("", limit=2, offset=0)) == everything[:2]
    assert titles(own(fake_films).search("", limit=2, offset=2)) == everything[2:]


def test_hidden_films_are_not_visible(fake_films):
    fake_films["heist"].hidden = True
    fake_films["heist"].save()
    visible = own(fake_films).visible()
    for mode in ("keyword", "semantic", "hybrid"):
        assert "Glass Vault" not in titles(visible.search("glass vault", mode=mode))


def test_similar_to_excludes_the_film_and_hidden_films(fake_films):
    fake_films["orchard"].hidden = True
    fake_films["orchard"].save()
    similar = similar_films(fake_films["comet"], candidates=own(fake_films))
    assert [movie.title for movie in similar] == ["Glass Vault"]
    assert -1 <= similar[0].score <= 1


def test_autocomplete_finds_prefixes_and_typos(fake_films):
    assert [m.title for m in own(fake_films).autocomplete("orch")] == ["Orchard of Salt"]
    assert [m.title for m in own(fake_films).autocomplete("glas vault")] == ["Glass Vault"]
    assert own(fake_films).autocomplete("  ") == []


# -- quality on the demo catalog, with the real all-MiniLM-L6-v2 vectors ----------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("godfather", "The Godfather"),
        ("godfater", "The Godfather"),
        ("shawshank redemtion", "The Shawshank Redemption"),
        ("a shark terrorizes a beach town", "Jaws"),
        ("seven samurai", "Seven Samurai"),
        ("interstelar", "Interstellar"),
        ("the dark knigth", "The Dark Knight"),
        ("amelie", "Amélie"),
    ],
)
def test_hybrid_search_puts_the_right_film_first(query, expected):
    assert titles(Movie.objects.visible().search(query, limit=5))[0] == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [("dnue", "Dune"), ("jwas", "Jaws"), ("haet", "Heat"), ("tneet", "Tenet"), ("rcoky", "Rocky"), ("pnoyo", "Ponyo")],
)
def test_a_short_demo_title_with_two_letters_swapped_comes_first(query, expected):
    assert titles(Movie.objects.visible().search(query, limit=5))[0] == expected
    assert titles(Movie.objects.visible().search(query, mode="keyword", limit=5))[0] == expected


def test_names_find_their_films():
    assert "Saving Private Ryan" in titles(Movie.objects.visible().search("tom hanks", mode="keyword", limit=20))
    nolan = titles(Movie.objects.visible().search("nolan", limit=10))
    assert {"Inception", "Interstellar", "Memento"} <= set(nolan)
    assert {"The Godfather", "Apocalypse Now"} <= set(titles(Movie.objects.visible().search("coppola", limit=20)))


def test_similar_films_of_the_godfather_start_with_its_sequel():
    godfather = Movie.objects.get(title="The Godfather")
    similar = similar_films(godfather, limit=40)
    assert len(similar) == 40
    assert "The Godfather Part II" in [movie.title for movie in similar[:3]]
    assert godfather.pk not in [movie.pk for movie in similar]


def test_ordering_sorts_the_matches_of_a_query():
    films = Movie.objects.visible()
    by_year = films.search("christopher nolan", mode="keyword", ordering="year", limit=50).results
    assert [m.year for m in by_year] == sorted(m.year for m in by_year)
    by_rating = films.search("christopher nolan", mode="keyword", ordering="rating", limit=50).results
    ratings = [m.vote_average for m in by_rating if m.vote_average is not None]
    assert ratings == sorted(ratings, reverse=True)
    by_title = films.search("godfather", mode="keyword", ordering="title").results
    assert [m.title for m in by_title] == sorted(m.title for m in by_title)


def test_rare_words_count_more_than_common_ones():
    # "war" is in many films, "mafia" in few: the mafia films rank above war films matching only "war".
    top = titles(Movie.objects.visible().search("mafia war", mode="keyword", limit=3))
    assert "The Godfather" in top or "The Godfather Part II" in top


def test_keyword_matches_say_why_with_an_escaped_highlighted_snippet(fake_films):
    overview = "A <b>bold</b> lighthouse keeper guards fish & chips < 5 dollars."
    make_movie(title="Snippet Test", overview=overview, embed_with="fake")
    page = Movie.objects.filter(title__startswith="Snippet").search("lighthouse keeper", mode="keyword")
    snippet = page.results[0].snippet
    assert "<mark>lighthouse</mark> <mark>keeper</mark>" in snippet
    assert "<b>" not in snippet and "&amp; chips &lt; 5" in snippet
    assert own(fake_films).search("comet", mode="semantic").results[0].snippet == ""


@pytest.mark.parametrize("mode", ["keyword", "hybrid", "semantic"])
@pytest.mark.parametrize("query", ["glass vault", "a crew plans to rob a glass vault under a casino", "It Ends Here"])
def test_a_search_of_films_a_filter_can_never_match_answers_an_empty_page(fake_films, mode, query):
    # Django compiles no statement for `pk__in=[]`: the written-out signals and the ORM's alike refuse it.
    page = Movie.objects.filter(pk__in=[]).search(query, mode=mode)
    assert page.count == 0 and page.results == []
