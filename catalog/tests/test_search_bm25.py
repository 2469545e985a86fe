"""The keyword ranking re-scored (issue 13, third round): BM25F for described plots, a quote of a film's text
first. The scoring itself as a pure function; the plumbing on films made here with the fake encoder; quality
on the demo catalog with the real all-MiniLM-L6-v2 vectors."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import search
from catalog.models import LexemeStat, Movie
from catalog.tests.helpers import make_movie

pytestmark = pytest.mark.django_db

AVERAGE = {"A": 3.0, "B": 0.0, "C": 8.0, "D": 40.0}
LENGTHS = {"A": 3, "B": 0, "C": 8, "D": 40}


def test_a_word_said_again_and_again_adds_less_and_less_up_to_its_idf():
    once = search.bm25f(["storm"], [2.0], {"storm": "D"}, LENGTHS, AVERAGE)
    twice = search.bm25f(["storm"], [2.0], {"storm": "DD"}, LENGTHS, AVERAGE)
    thrice = search.bm25f(["storm"], [2.0], {"storm": "DDD"}, LENGTHS, AVERAGE)
    often = search.bm25f(["storm"], [2.0], {"storm": "D" * 30}, LENGTHS, AVERAGE)
    assert once < twice < thrice < often < 2.0
    assert twice - once > thrice - twice


def test_an_occurrence_counts_less_in_a_longer_field_and_more_in_a_weightier_one():
    short = search.bm25f(["storm"], [2.0], {"storm": "D"}, {**LENGTHS, "D": 20}, AVERAGE)
    long = search.bm25f(["storm"], [2.0], {"storm": "D"}, {**LENGTHS, "D": 120}, AVERAGE)
    assert short > long
    in_keywords = search.bm25f(["storm"], [2.0], {"storm": "C"}, LENGTHS, AVERAGE)
    in_overview = search.bm25f(["storm"], [2.0], {"storm": "D"}, LENGTHS, AVERAGE)
    assert in_keywords > in_overview  # genres and keywords weigh twice an overview (BM25_FIELD_WEIGHTS)


def test_without_averages_fields_are_not_length_normalised():
    plain = search.bm25f(["storm"], [2.0], {"storm": "D"}, {**LENGTHS, "D": 500}, {})
    assert plain == pytest.approx(2.0 * 1.0 / (search.BM25_K1 + 1.0))


def test_the_statistics_hold_each_fields_length_summed_over_the_visible_films():
    search.refresh_lexeme_stats()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(length(ts_filter(search_vector, '{a}'))), sum(length(ts_filter(search_vector, '{d}')))"
            " FROM catalog_movie WHERE NOT hidden"
        )
        titles, overviews = cursor.fetchone()
    assert LexemeStat.objects.get(word=search.FIELD_LENGTH_WORDS["A"]).documents == titles
    assert LexemeStat.objects.get(word=search.FIELD_LENGTH_WORDS["D"]).documents == overviews
    films = Movie.objects.visible().count()
    # What a search reads with its words' statistics (`word_statistics`, one statement).
    assert search.word_statistics("shark").field_averages["D"] == pytest.approx(overviews / films)
    # The rows are no word's: a query's words never read them as document counts.
    assert LexemeStat.objects.get(word="").documents == films

    LexemeStat.objects.filter(word__in=search.FIELD_LENGTH_WORDS.values()).delete()
    assert search.word_statistics("shark").field_averages == {}


@pytest.fixture
def storm_films(settings):
    settings.EMBEDDING_BACKEND = "fake"
    return {
        "repeats": make_movie(
            title="Squall Line", overview="A storm. " * 6 + "Then another storm, and the storm again, all summer.",
            embed_with="fake",
        ),
        "described": make_movie(
            title="Beacon Rock", overview="A lighthouse keeper rides out a storm with the stranger he rescued.",
            embed_with="fake",
        ),
        "quoted": make_movie(
            title="Salt Letters", tagline="The sea keeps every secret.", overview="Two sisters run an inn.",
            embed_with="fake",
        ),
        "scattered": make_movie(
            title="Tidewater", overview="Secret after secret: the sea, the sea, every sea keeps one, keeps it secret.",
            embed_with="fake",
        ),
    }  # fmt: skip


def own(films: dict) -> Movie.objects.__class__:
    return Movie.objects.filter(pk__in=[movie.pk for movie in films.values()])


def test_a_described_plot_is_scored_by_bm25f_and_a_title_length_query_keeps_its_order(storm_films):
    films = own(storm_films)
    repeats, described = storm_films["repeats"].pk, storm_films["described"].pk
    ranking = [(repeats, 2.0), (described, 1.0)]  # what a sum of ts_rank per word might say

    plot = "a keeper of a lighthouse saves a stranger from the sea in a storm"
    assert [pk for pk, _ in search.bm25_rescore(films, ranking, plot)] == [described, repeats]
    assert search.bm25_rescore(films, ranking, "storm keeper") == ranking  # two words: ts_rank stays


def test_a_quote_of_a_films_text_goes_first(storm_films, monkeypatch):
    films = own(storm_films)
    quoted, scattered = storm_films["quoted"].pk, storm_films["scattered"].pk
    query = "the sea keeps every secret"
    ranking = search.keyword_scores(films, query, limit=10)
    assert [pk for pk, _ in ranking][:2] == [scattered, quoted]  # more of the words, not in their order

    quotes: list[tuple[int, float]] = []
    rescored = search.bm25_rescore(films, ranking, query, quotes=quotes)
    assert [pk for pk, _ in rescored][:2] == [quoted, scattered]
    assert quotes == [(quoted, 1.0)]  # what fusion keeps first in hybrid mode too
    assert films.search(query, mode="keyword").results[0].pk == quoted
    assert search.signals(films, query, mode="hybrid", alpha=0.5, pool=10)["quote"] == [(quoted, 1.0)]

    monkeypatch.setattr(search, "QUOTE_FIRST", False)
    assert search.bm25_rescore(films, ranking, query) == ranking


def test_a_line_of_stop_words_finds_the_film_whose_text_holds_it_the_tagline_first(storm_films, monkeypatch):
    said = make_movie(title="Paper Moons", tagline="Love What You Have.", overview="A widow runs a kite shop.")
    told = make_movie(title="Lanterns", overview="Her mother told her to love what you have, and she did not.")
    loved = make_movie(title="Love, Loved", overview="Love and love again: what a love story you will have.")
    films = own({**storm_films, "said": said, "told": told, "loved": loved})
    query = "love what you have"
    stats = search.word_statistics(query)
    assert stats.words == ["love"] and search.mostly_stop_words(query, stats)  # one lexeme of four words
    # The lexemes alone put the film saying "love" most first; its words in order are elsewhere.
    assert search.keyword_scores(films, query, limit=10)[0][0] == loved.pk
    assert search.raw_quotes(films, query, stats, limit=10) == [(said.pk, 3.0), (told.pk, 1.0)]
    # Films read through a join (no filter of their own table alone to write out) give the same.
    joined = films.filter(genres__isnull=True).distinct()
    assert search.raw_quotes(joined, query, stats, limit=10) == [(said.pk, 3.0), (told.pk, 1.0)]
    for mode in ("keyword", "hybrid"):
        assert [movie.pk for movie in films.search(query, mode=mode).results][:2] == [said.pk, told.pk]
    assert [pk for pk, _ in search.signals(films, query, mode="hybrid", alpha=0.5, pool=10)["quote"]] == [
        said.pk,
        told.pk,
    ]

    # One statement more than the same search without the check, and only one reads the films' text.
    with CaptureQueriesContext(connection) as checked:
        films.search(query, mode="hybrid")
    monkeypatch.setattr(search, "raw_quotes", lambda *args, **kwargs: [])
    with CaptureQueriesContext(connection) as unchecked:
        films.search(query, mode="hybrid")
    assert len(checked) == len(unchecked) + 1
    assert sum("regexp_replace" in statement["sql"] for statement in checked.captured_queries) == 1

    monkeypatch.setattr(search, "QUOTE_FIRST", False)
    assert films.search(query, mode="keyword").results[0].pk == loved.pk


def test_a_short_query_of_words_or_of_websearch_syntax_reads_no_films_text(storm_films):
    films = own(storm_films)
    for query in ("the sea keeps every secret", "sea secret", "storm", "the storm", "keeper of the light"):
        stats = search.word_statistics(query)
        assert not search.mostly_stop_words(query, stats), query
        with CaptureQueriesContext(connection) as queries:
            assert search.raw_quotes(films, query, stats, limit=10) == []
            films.search(query, mode="hybrid")
        assert not any("regexp_replace" in query["sql"] for query in queries.captured_queries), query
    # A line of stop words alone has no word for the index to find its films by: nothing is read either.
    assert search.raw_quotes(films, "it is what it is", search.word_statistics("it is what it is"), limit=10) == []


def test_websearch_syntax_keeps_its_ranking(storm_films):
    films = own(storm_films)
    ranking = [(storm_films["scattered"].pk, 2.0), (storm_films["quoted"].pk, 1.0)]
    assert search.bm25_rescore(films, ranking, '"the sea keeps every secret"') == ranking
    assert search.bm25_rescore(films, [], "the sea keeps every secret") == []


def test_a_described_plots_quotes_and_dashes_are_its_words_not_websearch_syntax(storm_films):
    films = own(storm_films)
    assert search.uses_syntax('"the sea keeps every secret"')
    assert search.uses_syntax("storm -keeper")
    # A pasted description quoting a name: read as syntax, every word would be required ("saves", "sea"...).
    plot = 'the "keeper" of a lighthouse saves a stranger from the sea - a storm'
    assert not search.uses_syntax(plot)
    assert films.search(plot, mode="keyword").results[0].pk == storm_films["described"].pk


def test_a_described_plot_in_hybrid_mode_scores_the_semantic_pools_films_too(storm_films):
    meadow = make_movie(title="Quiet Meadow", overview="Cows graze by a mill pond.", embed_with="fake")
    films = own({**storm_films, "meadow": meadow})
    plot = "a keeper of a lighthouse saves a stranger from the sea in a storm"
    rankings = search.signals(films, plot, mode="hybrid", alpha=0.5, pool=10)
    candidates = {pk for name in ("keyword", "semantic") for pk, _ in rankings[name]}
    assert {pk for pk, _ in rankings["keyword"]} < candidates  # the fake vectors rank every film, words or not
    assert {pk for pk, _ in rankings["bm25f"]} == {pk for pk, _ in rankings["coverage"]} == candidates
    coverage = dict(rankings["coverage"])
    assert coverage[storm_films["described"].pk] > coverage[meadow.pk] == 0.0
    assert rankings["bm25f"][0][0] == storm_films["described"].pk
    # Keyword mode has no semantic pool; a title-length query is not re-scored: neither reads more films.
    keyword = search.signals(films, plot, mode="keyword", alpha=0.5, pool=10)
    assert {pk for pk, _ in keyword["bm25f"]} == {pk for pk, _ in keyword["keyword"]}
    assert "bm25f" not in search.signals(films, "storm keeper", mode="hybrid", alpha=0.5, pool=10)


# -- quality on the demo catalog, with the real all-MiniLM-L6-v2 vectors ----------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("worry about what will become of them", "Toy Story 3"),
        ("a job pasting up film posters", "Bicycle Thieves"),
        ("his fear of heights", "Vertigo"),
    ],
)
@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_a_remembered_line_of_an_overview_finds_its_film_first(line, expected, mode):
    assert Movie.objects.visible().search(line, mode=mode, limit=3).results[0].title == expected


@pytest.mark.parametrize("line", ["He discovers that his", "as the only one who can stop"])
@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
def test_a_remembered_line_of_stop_words_finds_its_film_first(line, mode):
    assert search.mostly_stop_words(line, search.word_statistics(line))
    assert Movie.objects.visible().search(line, mode=mode, limit=3).results[0].title == "Nosferatu"
