"""Statements of a search written to cost Postgres less (issue 16, issue-16q) read the same rows as the plainer
statements they replace, on real Postgres."""

from __future__ import annotations

import pytest
from django.db import connection

from catalog import search
from catalog.models import Movie
from catalog.tests.helpers import make_movie
from moviesite.db import fetch

pytestmark = pytest.mark.django_db

FILTERS = (
    lambda: Movie.objects.visible(),
    lambda: Movie.objects.all(),
    lambda: Movie.objects.visible().filter_by(year_min=1990),
    lambda: Movie.objects.visible().filter_by(genres=["Drama"]),
)


@pytest.fixture
def catalog() -> list[Movie]:
    films = [
        make_movie(
            title="Storm Keeper",
            overview="A keeper of the lighthouse waits for the storm; the storm comes twice a year.",
            keywords=("storm", "lighthouse"),
            genres=("Drama",),
            year=1995,
        ),
        make_movie(title="The Quiet Sea", overview="A sailor and a storm at sea.", genres=("Adventure",), year=1980),
        make_movie(title="Lighthouse", overview="Two keepers, one lighthouse, no storm.", genres=("Drama",), year=2010),
        make_movie(title="Hidden Storm", overview="A storm nobody saw.", hidden=True, year=2001),
        make_movie(title="Paperwork", overview="An accountant files taxes.", year=1999),
    ]
    return films


@pytest.mark.parametrize(
    "words",
    (
        ["storm"],
        ["storm", "keeper", "lighthous"],
        ["absent", "storm"],
        ["absent"],
        [],
        ["sea", "sea"],
        ["sailor", "drama", "keeper", "year", "tax"],
    ),
)
def test_the_query_words_entries_bm25f_reads_are_those_of_the_whole_vector_unnested(catalog, words):
    whole = """ARRAY(SELECT u.lexeme || ' ' || array_to_string(u.weights, '')
                     FROM unnest(m.search_vector) AS u WHERE u.lexeme = ANY(%s))"""
    entries = search.WORD_ENTRIES.format(vector="m.search_vector")
    sql = "SELECT m.id, {} FROM catalog_movie AS m ORDER BY m.id"
    expected = fetch(sql.format(whole), [words])
    assert fetch(sql.format(entries), [words]) == expected
    assert any(found for _, found in expected) or not {"storm", "sea", "sailor"} & set(words)


@pytest.mark.parametrize("films", FILTERS)
def test_keyword_candidates_read_through_the_search_index_are_the_films_the_filter_and_the_words_give(catalog, films):
    films = films()
    candidates = "'storm' | 'lighthous'"
    plain = search.candidates_statement(films, candidates)
    through_index = search.candidates_statement(films, candidates, through_index=True)
    assert through_index != plain
    ordered = "SELECT pk, vote_count, words::text FROM ({} OFFSET 0) AS film ORDER BY pk"
    found = fetch(ordered.format(through_index[0]), through_index[1])
    assert found == fetch(ordered.format(plain[0]), plain[1])
    assert found  # the filters keep some of the films


def test_keyword_candidates_past_the_sequential_share_are_read_through_the_search_index_not_the_hidden_flag(catalog):
    sql, params = search.candidates_statement(Movie.objects.visible(), "'storm' | 'sea'", through_index=True)
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("ROLLBACK")
    assert "movie_search_vector" in plan
    assert "hidden_" not in plan  # no index on the flag: the filter applies to the films the words found


def test_a_keyword_ranking_through_the_search_index_is_the_ranking_read_without_it(catalog, monkeypatch):
    for query in ("storm", "a keeper of the lighthouse and the storm at sea", "sea storm"):
        stats = search.word_statistics(query)
        monkeypatch.setattr(search, "SEQUENTIAL_SCAN_SHARE", 1.0)  # never through the index alone
        plain = search.keyword_scores(Movie.objects.visible(), query, limit=100, stats=stats)
        monkeypatch.setattr(search, "SEQUENTIAL_SCAN_SHARE", 0.0)  # always
        assert search.keyword_scores(Movie.objects.visible(), query, limit=100, stats=stats) == plain
        assert plain


@pytest.mark.parametrize("query", ("storm", "a keeper of the lighthouse and the storm at sea in the year of taxes"))
def test_a_keyword_ranking_testing_each_word_once_per_film_is_the_ranking_testing_it_twice(catalog, monkeypatch, query):
    stats = search.word_statistics(query)
    monkeypatch.setattr(search, "TESTED_ONCE_MIN_WORDS", 1_000)  # never
    twice = search.keyword_scores(Movie.objects.visible(), query, limit=100, stats=stats)
    monkeypatch.setattr(search, "TESTED_ONCE_MIN_WORDS", 1)  # always
    assert search.keyword_scores(Movie.objects.visible(), query, limit=100, stats=stats) == twice
    assert twice


def test_a_long_query_tests_each_of_its_words_once_per_film(catalog):
    from django.test.utils import CaptureQueriesContext

    query = "a keeper of the lighthouse waits for the storm with a sailor at sea in the quiet year"
    stats = search.word_statistics(query)
    assert len(stats.words) >= search.TESTED_ONCE_MIN_WORDS
    with CaptureQueriesContext(connection) as statements:
        search.keyword_scores(Movie.objects.visible(), query, limit=100, stats=stats)
    sql = statements.captured_queries[-1]["sql"]
    assert "CROSS JOIN LATERAL" in sql
    assert sql.count("film.words @@") == len(stats.words)  # once each, in the join


def test_the_keyword_candidates_copy_of_a_search_vector_is_the_vector(catalog):
    sql, params = search.candidates_statement(Movie.objects.all(), "'storm' | 'lighthous' | 'tax'")
    copies = dict(
        (pk, words) for pk, _, words in fetch(f"SELECT pk, vote_count, words::text FROM ({sql}) AS c", params)
    )
    vectors = dict(fetch("SELECT id, search_vector::text FROM catalog_movie", []))
    assert copies and all(vectors[pk] == words for pk, words in copies.items())


@pytest.mark.parametrize("query", ("storm keeper", "the storm comes twice", "lighthouse", "sea storm", "keeper storm"))
def test_a_short_querys_phrase_check_read_with_its_keyword_ranking_is_the_one_bm25f_reads(catalog, query):
    from django.test.utils import CaptureQueriesContext

    films = Movie.objects.visible()
    stats = search.word_statistics(query)
    plain = search.keyword_scores(films, query, limit=100, stats=stats)
    phrases: set[int] = set()
    assert search.keyword_scores(films, query, limit=100, stats=stats, phrases=phrases) == plain
    quotes, read_quotes = [], []
    expected = search.bm25_rescore(films, plain, query, stats=stats, quotes=quotes)
    with CaptureQueriesContext(connection) as statements:
        rescored = search.bm25_rescore(films, plain, query, stats=stats, quotes=read_quotes, phrases=phrases)
    assert (rescored, read_quotes) == (expected, quotes)
    assert {pk for pk, _ in quotes} == phrases
    assert len(statements) == 0  # the check came with the ranking


def test_a_short_querys_search_sends_no_phrase_statement_of_its_own(catalog):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as statements:
        page = Movie.objects.visible().search("storm comes twice", mode="keyword")
    assert page.results and page.results[0].title == "Storm Keeper"  # the quote goes first
    phrase = [q["sql"] for q in statements.captured_queries if "phraseto_tsquery" in q["sql"]]
    assert len(phrase) == 1 and "film.words" in phrase[0]  # the keyword statement's


@pytest.fixture
def plans():
    """Every prepared statement run with the plan Postgres keeps for any values (its generic plan), or with one
    made for the given values (a custom plan): `plans("generic")`."""

    def use(kind: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('plan_cache_mode', %s, false)", [kind if kind == "auto" else f"force_{kind}_plan"]
            )

    yield use
    use("auto")


QUERIES = (
    "storm",
    "storm keeper",
    "the storm comes twice",
    "a keeper of the lighthouse waits for the storm with a sailor at sea in the quiet year",
    "Strom Keper",
)


@pytest.mark.parametrize("mode", ("keyword", "hybrid"))
def test_a_searchs_prepared_statements_read_the_same_under_their_generic_plans(catalog, plans, mode):
    def page(query: str) -> list[tuple]:
        found = Movie.objects.visible().search(query, mode=mode)
        return [(movie.pk, movie.score, movie.matched, str(movie.snippet)) for movie in found.results]

    plans("custom")
    custom = {query: page(query) for query in QUERIES}
    plans("generic")
    assert {query: page(query) for query in QUERIES} == custom
    assert all(custom.values())


def test_a_prepared_keyword_statement_builds_its_tsqueries_once_not_for_every_film(catalog, plans):
    from django.test.utils import CaptureQueriesContext

    query = "storm keeper lighthouse"
    stats = search.word_statistics(query)
    with CaptureQueriesContext(connection) as statements:
        search.keyword_scores(Movie.objects.visible(), query, limit=100, stats=stats, phrases=set())
    sql = statements.captured_queries[-1]["sql"]
    plans("generic")
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (VERBOSE) {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # Each tsquery (and the phrase) an InitPlan's result, not an expression evaluated on every film's row.
    assert plan.count("InitPlan") >= 3 * len(stats.words) + 1
    assert "to_tsquery" not in "\n".join(line for line in plan.splitlines() if "Output:" in line and "$" not in line)


@pytest.mark.parametrize("query", ("storm", "lighthouse keeper", "sea", "storm sea sailor keeper", "year"))
def test_a_headline_is_read_only_where_the_overview_tagline_or_plot_has_a_word_and_gives_the_same_snippet(
    catalog, query
):
    make_movie(title="Storm Lighthouse Sea", overview="Nothing of the kind happens here, twice a year.")
    make_movie(title="Keeper", overview="", plot="The plot: a keeper, a storm, a sailor.")
    ids = list(Movie.objects.values_list("pk", flat=True))
    any_word = "replace(plainto_tsquery('moviesite_english'::regconfig, %s)::text, '&', '|')::tsquery"
    before = f"""CASE WHEN search_vector @@ {any_word} THEN ts_headline('moviesite_english'::regconfig,
                 COALESCE(NULLIF(overview, ''), plot), {any_word}, %s) END"""
    options = f"StartSel={search._MARK_START}, StopSel={search._MARK_END}, MaxWords=18, MinWords=8, MaxFragments=1"
    expected = dict(fetch(f"SELECT id, {before} FROM catalog_movie", [query, query, options]))
    headline = search.headline(ids, query)
    found = dict(fetch(f"SELECT id, {headline.sql} FROM catalog_movie", headline.params))
    assert {pk: search.marked(text) for pk, text in found.items()} == {
        pk: search.marked(text) for pk, text in expected.items()
    }
    # Films only their title (or people, or tags) match are not read at all.
    assert any(text is not None and not search.marked(text) for text in expected.values()) or query == "year"
    assert all(text is None or search.marked(text) for text in found.values())
