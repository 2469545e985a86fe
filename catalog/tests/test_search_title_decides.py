"""A hybrid search its title or a quote decides (issue 16): the typo'd title's or the quoting film first, then
the lexical signals' films, with no query encoding and no read of the vector index; plumbing with the fake
encoder, quality on the demo catalog with the real model."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import search
from catalog.models import Movie
from catalog.tests.helpers import make_movie, titles
from recommender import encoders

pytestmark = pytest.mark.django_db


@pytest.fixture
def encoded(monkeypatch) -> list[str]:
    """The queries the query encoder is asked for, in order (the vectors still come from it)."""
    calls: list[str] = []
    real = encoders.encode_query

    def counted(text: str, backend: str | None = None) -> list[float]:
        calls.append(text)
        return real(text, backend)

    monkeypatch.setattr(encoders, "encode_query", counted)
    return calls


@pytest.fixture
def fake_films(settings) -> Movie.objects.__class__:
    settings.EMBEDDING_BACKEND = "fake"
    films = [
        make_movie(
            title="Orchard of Salt", overview="Two sisters inherit a failing orchard by the sea.", vote_count=50,
            embed_with="fake",
        ),
        make_movie(
            title="Comet Harvest", overview="Miners chase a comet across the outer belt.", vote_count=500,
            embed_with="fake",
        ),
        make_movie(
            title="Glass Vault", overview="A crew plans to rob a glass vault under a casino.", vote_count=5000,
            embed_with="fake",
        ),
    ]  # fmt: skip
    return Movie.objects.filter(pk__in=[film.pk for film in films])


def vector_reads(statements: list[dict]) -> list[str]:
    return [query["sql"] for query in statements if "<=>" in query["sql"]]


def test_a_typod_title_comes_first_in_hybrid_mode_without_encoding_the_query(fake_films, encoded):
    with CaptureQueriesContext(connection) as statements:
        page = fake_films.search("orchrd of salt", mode="hybrid")
    assert titles(page)[0] == "Orchard of Salt"
    assert encoded == [] and vector_reads(statements.captured_queries) == []
    assert "semantic" not in page.results[0].matched


def test_a_described_plot_still_uses_the_semantic_signal(fake_films, encoded):
    # No quote of the overview ("Two sisters inherit a failing orchard by the sea."): a word of it left out.
    with CaptureQueriesContext(connection) as statements:
        page = fake_films.search("sisters inherit an orchard by the sea", mode="hybrid")
    assert encoded == ["sisters inherit an orchard by the sea"]
    assert len(vector_reads(statements.captured_queries)) == 1
    assert any("semantic" in movie.matched for movie in page.results)


def test_a_title_that_does_not_stand_out_still_uses_the_semantic_signal(fake_films, encoded):
    # "glass orchard" is as close to one title as to the other: its title decides nothing.
    fake_films.search("glass orchard", mode="hybrid")
    assert encoded == ["glass orchard"]


def test_a_user_weighing_meaning_above_the_default_keeps_the_semantic_signal(fake_films, encoded):
    page = fake_films.search("orchrd of salt", mode="hybrid", alpha=0.8)
    assert titles(page)[0] == "Orchard of Salt"
    assert encoded == ["orchrd of salt"]


def test_semantic_mode_always_encodes_the_query(fake_films, encoded):
    fake_films.search("orchrd of salt", mode="semantic")
    assert encoded == ["orchrd of salt"]


def test_fusion_given_the_semantic_ranking_of_a_query_its_title_decides_leaves_it_out():
    # benchmarks/search_quality.py fuses cached signals that hold every ranking: it must see the page search()
    # shows, which never computed the semantic one.
    rankings = {
        "keyword": [(2, 1.0), (3, 0.5)],
        "title": [(1, 0.95**3), (2, 0.5**3)],
        "semantic": [(4, 0.9), (3, 0.8), (1, 0.1)],
    }
    without = {name: ranking for name, ranking in rankings.items() if name != "semantic"}
    fused = search.fuse(rankings, "orchrd of salt", mode="hybrid", alpha=0.5)
    assert [f.key for f in fused] == [f.key for f in search.fuse(without, "orchrd of salt", mode="hybrid", alpha=0.5)]
    assert [f.key for f in fused] == [1, 2, 3]
    # A title that does not stand out keeps the semantic ranking's films.
    close = {**rankings, "title": [(1, 0.85**3), (2, 0.8**3)]}
    assert 4 in [f.key for f in search.fuse(close, "orchrd of salt", mode="hybrid", alpha=0.5)]


@pytest.mark.parametrize(
    "query",
    [
        "miners chase a comet",
        "chase a comet across the outer",
        "miners chase a comet across the outer belt",  # eight words: its quotes are read before its vector
    ],
)
def test_a_line_one_film_quotes_comes_first_without_encoding_the_query(fake_films, encoded, query):
    with CaptureQueriesContext(connection) as statements:
        page = fake_films.search(query, mode="hybrid")
    assert titles(page)[0] == "Comet Harvest"
    assert encoded == [] and vector_reads(statements.captured_queries) == []


def test_a_long_description_no_film_quotes_still_uses_the_semantic_signal(fake_films, encoded):
    query = "two sisters inherit an old orchard by the sea"  # "old" is not in the overview: no quote
    with CaptureQueriesContext(connection) as statements:
        page = fake_films.search(query, mode="hybrid")
    assert titles(page)[0] == "Orchard of Salt"
    assert encoded == [query] and len(vector_reads(statements.captured_queries)) == 1


def test_a_long_query_weighing_keywords_alone_reads_no_semantic_pool(fake_films, encoded):
    # Hybrid at alpha 0 ranks by the lexical signals alone: no film quoting the query does not make it read one.
    query = "two sisters inherit an old orchard by the sea"
    assert "semantic" not in search.signals(fake_films, query, mode="hybrid", alpha=0.0, pool=100)
    assert encoded == []


def test_the_learned_rankers_training_reads_every_signal_of_a_query_a_quote_decides(fake_films):
    query = "miners chase a comet across the outer belt"
    assert "semantic" not in search.signals(fake_films, query, mode="hybrid", alpha=0.5, pool=100)
    every = search.signals(fake_films, query, mode="hybrid", alpha=0.5, pool=100, decide=False)
    assert len(every["semantic"]) == 3 and len(every["quote"]) == 1


def test_a_line_two_films_quote_still_uses_the_semantic_signal(fake_films, encoded):
    other = make_movie(title="Tail of Fire", overview="Miners chase a comet to its tail.", embed_with="fake")
    films = Movie.objects.filter(pk__in=[*fake_films.values_list("pk", flat=True), other.pk])
    assert set(titles(films.search("miners chase a comet", mode="hybrid"))[:2]) == {"Comet Harvest", "Tail of Fire"}
    assert encoded == ["miners chase a comet"]


def test_two_words_one_film_holds_are_a_topic_and_still_use_the_semantic_signal(fake_films, encoded):
    fake_films.search("outer belt", mode="hybrid")
    assert encoded == ["outer belt"]


def test_a_user_weighing_meaning_above_the_default_keeps_the_semantic_signal_of_a_quote(fake_films, encoded):
    assert titles(fake_films.search("miners chase a comet", mode="hybrid", alpha=0.8))[0] == "Comet Harvest"
    assert encoded == ["miners chase a comet"]


def test_fusion_given_the_semantic_ranking_of_a_query_one_film_quotes_leaves_it_out():
    rankings = {
        "keyword": [(2, 1.0), (3, 0.5)],
        "title": [(1, 0.3**3)],
        "quote": [(2, 1.0)],
        "semantic": [(4, 0.9), (3, 0.8), (1, 0.1)],
    }
    without = {name: ranking for name, ranking in rankings.items() if name != "semantic"}
    query = "miners chase a comet"
    fused = [f.key for f in search.fuse(rankings, query, mode="hybrid", alpha=0.5)]
    assert fused == [f.key for f in search.fuse(without, query, mode="hybrid", alpha=0.5)] and fused[0] == 2
    assert 4 not in fused
    # Two quoting films: the semantic ranking's films stay.
    both = {**rankings, "quote": [(2, 1.0), (3, 1.0)]}
    assert 4 in [f.key for f in search.fuse(both, query, mode="hybrid", alpha=0.5)]


# -- quality on the demo catalog, with the real all-MiniLM-L6-v2 vectors ----------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # typo'd titles
        ("the dark knigth", "The Dark Knight"),
        ("godfater", "The Godfather"),
        ("shawshank redemtion", "The Shawshank Redemption"),
        ("interstelar", "Interstellar"),
        # lines of an overview, short and long
        ("a great white shark kills a swimmer", "Jaws"),
        ("a shy and imaginative waitress", "Amélie"),
        ("folding pizza boxes to scrape by", "Parasite"),
        ("when a great white shark kills a swimmer off amity island", "Jaws"),
        ("dom cobb steals corporate secrets by slipping into people's dreams", "Inception"),
    ],
)
def test_a_typod_title_or_a_quoted_line_of_the_demo_catalog_comes_first_without_encoding_the_query(
    query, expected, encoded
):
    assert titles(Movie.objects.visible().search(query, limit=5))[0] == expected
    assert encoded == []


def test_the_rest_of_a_typod_titles_page_is_its_sequels_and_close_titles():
    page = titles(Movie.objects.visible().search("the dark knigth", limit=5))
    assert page[:2] == ["The Dark Knight", "The Dark Knight Rises"]
    assert "The Godfather Part II" in titles(Movie.objects.visible().search("godfater", limit=3))


def test_a_pasted_description_of_the_demo_catalog_is_still_encoded(encoded):
    assert titles(Movie.objects.visible().search("a shark terrorizes a beach town", limit=3))[0] == "Jaws"
    assert encoded == ["a shark terrorizes a beach town"]
