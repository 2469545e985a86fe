"""A search answer made with fewer statements and less Python (issue 16) is the answer the prefetches and DRF's
generic serializer made, byte for byte, on the demo catalog (which has credits, unlike the benchmark's)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from catalog import search
from catalog.api.serializers import ScoredMovieSerializer, SearchResultSerializer
from catalog.models import LexemeStat, Movie
from catalog.tests.helpers import make_movie

pytestmark = pytest.mark.django_db

JSON = "application/json"
QUERIES = (
    "godfater",
    "tom hanks",
    "a shark terrorizes a small beach town and a police chief sets out to hunt it down",
    "space",
    '"the dark knight"',
)


class GenericSearchResultSerializer(SearchResultSerializer):
    """SearchResultSerializer as DRF's generic path writes it."""

    to_representation = ScoredMovieSerializer.to_representation


@pytest.fixture(autouse=True)
def web_server_connections(settings):
    """Count statements as a web server runs them (no SET LOCAL statement_timeout around each one)."""
    settings.CONNECTION_STATEMENT_TIMEOUT_MS = settings.REQUEST_STATEMENT_TIMEOUT_MS


def search_answer(**params) -> tuple[bytes, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = APIClient().get("/api/search/", params, HTTP_ACCEPT=JSON)
    assert response.status_code == 200
    return response.content, [query["sql"] for query in queries.captured_queries]


def rebuilt(body: bytes) -> bytes:
    """The same answer from films loaded with the prefetches, serialized by DRF's generic path."""
    answer = json.loads(body)
    ids = [row["id"] for row in answer["results"]]
    films = Movie.objects.for_display().in_bulk(ids)
    for row in answer["results"]:
        films[row["id"]].score, films[row["id"]].matched = row["score"], row["matched"]
        films[row["id"]].snippet = row["snippet"]
    results = GenericSearchResultSerializer([films[pk] for pk in ids], many=True).data
    return JSONRenderer().render({"count": answer["count"], "results": results})


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_a_search_answer_is_the_one_prefetched_films_and_drfs_serializer_make(mode):
    with_people = 0
    for query in QUERIES:
        body, _ = search_answer(q=query, mode=mode)
        assert body == rebuilt(body), query
        with_people += sum(bool(row["directors"] or row["cast"]) for row in json.loads(body)["results"])
    assert with_people > 20  # credits were really read, in order


def test_a_film_without_year_ids_votes_or_credits_is_written_as_drf_writes_it():
    make_movie(title="Zyzzogeton Nights", overview="A zyzzogeton wanders the night.", year=None)
    body, _ = search_answer(q="zyzzogeton", mode="keyword")
    row = json.loads(body)["results"][0]
    assert row["title"] == "Zyzzogeton Nights" and row["year"] is None and row["imdb_id"] is None
    assert row["directors"] == row["cast"] == [] and "<mark>" in row["snippet"]
    assert body == rebuilt(body)


def test_the_page_of_films_is_read_with_its_genres_and_credits_in_one_statement():
    _, statements = search_answer(q="tom hanks", mode="keyword")
    assert not any("catalog_credit" in sql and "catalog_movie" not in sql for sql in statements)
    assert not any("catalog_genre" in sql and "catalog_movie" not in sql for sql in statements)
    page_reads = [sql for sql in statements if "catalog_credit" in sql]
    assert len(page_reads) == 1 and "catalog_genre" in page_reads[0]


def test_a_described_plot_reads_the_lexeme_statistics_and_field_lengths_once():
    plot = "a police chief a marine biologist and a fisherman hunt the great white shark that terrorizes the beach"
    with CaptureQueriesContext(connection) as queries:
        rankings = search.signals(Movie.objects.visible(), plot, mode="keyword", alpha=0.0, pool=100)
    assert [pk for pk, _ in rankings["keyword"]][:1] == [Movie.objects.get(title="Jaws").pk]
    reads = [query["sql"] for query in queries.captured_queries if "catalog_lexemestat" in query["sql"]]
    assert len(reads) == 1


def test_the_statistics_read_once_give_the_rescoring_what_it_read_itself():
    films = Movie.objects.visible()
    plot = "a police chief a marine biologist and a fisherman hunt the great white shark that terrorizes the beach"
    stats = search.word_statistics(plot)
    assert stats.field_averages == search.averages(dict(LexemeStat.objects.values_list("word", "documents")))
    assert set(stats.field_averages) == set(search.BM25_FIELD_WEIGHTS)
    ranking = search.keyword_scores(films, plot, limit=100)
    assert search.keyword_scores(films, plot, limit=100, stats=stats) == ranking
    assert search.bm25_rescore(films, ranking, plot, stats=stats) == search.bm25_rescore(films, ranking, plot)
    # Without statistics yet (a catalog imported before they were kept), every word weighs the same.
    LexemeStat.objects.all().delete()
    assert search.word_statistics(plot).field_averages == {}
    assert set(search.word_statistics(plot).weights) == {1.0}


WEB_PROBE = """
    import json
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    import catalog.api.answers
    from catalog.models import Movie
    from moviesite.db import fetch_with_settings

    catalog.api.answers.cacheable = lambda request: False  # computed, never kept: nothing is written
    plot = "a police chief a marine biologist and a fisherman hunt the great white shark that terrorizes the beach"
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/api/search/", {"q": plot, "mode": "hybrid"}, HTTP_ACCEPT="application/json")
        assert response.status_code == 200, response.content
    statements = [query["sql"] for query in queries.captured_queries]
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/api/search/", {"q": "godfater", "mode": "hybrid"}, HTTP_ACCEPT="application/json")
        assert response.status_code == 200, response.content
    title = [query["sql"] for query in queries.captured_queries]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('hnsw.ef_search'), current_setting('hnsw.iterative_scan')")
        started = cursor.fetchone()
    with CaptureQueriesContext(connection) as queries:
        Movie.objects.visible().nearest([0.1] * 384, model="any", limit=500)  # similar films' wider pool
    wider = [query["sql"] for query in queries.captured_queries]
    with CaptureQueriesContext(connection) as queries:
        rows = fetch_with_settings({"enable_seqscan": "off"}, "SELECT current_setting('enable_seqscan'), %s", [7])
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_seqscan')")
        after = cursor.fetchone()[0]
    print(json.dumps({
        "statements": len(statements),
        "hnsw_set": any("hnsw" in sql for sql in statements),
        "transactions": sum(sql.startswith("BEGIN") or "SAVEPOINT" in sql for sql in statements),
        "title_statements": len(title),
        "title_transactions": sum(sql.startswith("BEGIN") or "SAVEPOINT" in sql for sql in title),
        "title_threshold_set": sum("pg_trgm.word_similarity_threshold" in sql for sql in title),
        "threshold_with_titles": any("word_similarity_threshold" in sql and "WORD_SIMILARITY" in sql for sql in title),
        "started": started,
        "wider_set": any("'hnsw.ef_search'" in sql or "500" in sql for sql in wider) and len(wider) > 1,
        "one_round_trip": [list(rows[0]), len(queries.captured_queries), after],
    }))
"""


def web_probe(**variables: str) -> dict:
    from moviesite.tests.test_serving import run_in_a_web_process

    return json.loads(run_in_a_web_process(WEB_PROBE, **variables).strip().splitlines()[-1])


def test_a_web_servers_connections_start_with_the_search_index_settings_and_a_search_sets_none():
    probe = web_probe()
    assert probe["started"] == ["200", "relaxed_order"]
    assert not probe["hnsw_set"] and probe["transactions"] == 0
    # throttle, statistics, keyword, BM25F, semantic, the candidates' votes for the learned ranker, page (13 before)
    assert probe["statements"] <= 7
    assert probe["wider_set"]  # a pool wider than search's still gets its own ef_search, as SET LOCAL
    assert probe["one_round_trip"] == [["off", 7], 1, "on"]  # the setting held for that statement alone


def test_a_title_searchs_threshold_goes_with_its_titles_in_one_round_trip():
    probe = web_probe()
    # The title signal's threshold is set in the same query string as its statement: no BEGIN and COMMIT around
    # the two. Throttle, statistics, keyword (no film has the misspelt word, so no BM25F read), title, semantic,
    # page: 6 statements (9 before).
    assert probe["title_transactions"] == 0
    assert probe["title_threshold_set"] == 1 and probe["threshold_with_titles"]
    assert probe["title_statements"] <= 6


def test_behind_a_transaction_pooler_search_keeps_its_set_local():
    probe = web_probe(DATABASE_POOLER="transaction")
    assert probe["started"][1] != "relaxed_order"  # pgvector's default: nothing started with the connection
    assert probe["hnsw_set"] and probe["transactions"] >= 1
    assert probe["one_round_trip"] == [["off", 7], 1, "on"]


def test_the_search_page_of_the_site_reads_no_left_behind_column_film_by_film():
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/", {"q": "tom hanks", "mode": "hybrid"})
    assert response.status_code == 200 and response.content.count(b'class="card-title"') >= 10
    statements = [query["sql"] for query in queries.captured_queries]
    # A column left behind that the page shows would be read film by film, one statement each.
    assert not [sql for sql in statements if 'WHERE "catalog_movie"."id" = ' in sql]
    assert len([sql for sql in statements if "catalog_movie" in sql]) <= 7  # the signals, the page, the genres


def test_a_displayed_films_relations_are_the_querysets_its_related_managers_make():
    # in_bulk_for_display builds them without a related manager per film: a query chained on one must still
    # read that film's rows only, with the SQL, hints and known film the manager's own queryset has.
    films = Movie.objects.filter(credits__isnull=False, genres__isnull=False, keywords__isnull=False).distinct()
    ids = list(films.values_list("pk", flat=True)[:5])
    assert len(ids) == 5
    loaded = Movie.objects.in_bulk_for_display(ids, details=True)
    for pk in ids:
        film, fresh = loaded[pk], Movie.objects.get(pk=pk)
        with CaptureQueriesContext(connection) as queries:
            cached = {relation: list(getattr(film, relation).all()) for relation in ("genres", "keywords", "credits")}
        assert not queries.captured_queries  # read from the filled caches
        assert cached["genres"] == list(fresh.genres.all())
        assert cached["keywords"] == list(fresh.keywords.all())
        assert cached["credits"] == list(fresh.credits.order_by("role", "order"))
        for relation in ("genres", "keywords", "credits"):
            ours, theirs = getattr(film, relation).all(), getattr(fresh, relation).all()
            assert str(ours.filter(pk__gt=0).query) == str(theirs.filter(pk__gt=0).query)
            assert ours._hints == theirs._hints == {"instance": fresh}
            assert list(ours.filter(pk__gt=0).order_by("pk")) == list(theirs.filter(pk__gt=0).order_by("pk"))
        assert film.credits.all()._known_related_objects == fresh.credits.all()._known_related_objects
        assert {credit.movie is film for credit in film.credits.filter(pk__gt=0)} == {True}
        # A chained filter on a many-to-many reuses the relation's join, as the manager's sticky filter does.
        named = film.genres.filter(name=cached["genres"][0].name)
        assert str(named.query) == str(fresh.genres.filter(name=cached["genres"][0].name).query)


FILTERED = (
    lambda: Movie.objects.visible(),
    lambda: Movie.objects.all(),
    lambda: Movie.objects.visible().filter_by(year_min=1990),
    lambda: Movie.objects.visible().filter_by(
        genres=["Drama", "crime"], year_max=2000, director="cop", actor="x", person="y", language="en"
    ),
)


def statements_both_ways(monkeypatch, films) -> tuple[list[str], list[str]]:
    """The signals' statements written out over `films`' own filter, and as the ORM builds them."""
    from catalog import querysets

    def statements() -> list[str]:
        with connection.cursor() as cursor:
            vector = [0.1] * 384
            nearest = querysets._nearest_sql
            own = search.own_where(films)
            written = [
                search.titles_statement(films, "dark knight", limit=100),
                search.candidates_statement(films, "'dark' | 'knight'"),
            ]
            if own is not None:
                for story in (True, False):
                    written.append(nearest(films.model, own, vector, embedding_model="m", limit=100, story=story))
            return [cursor.mogrify(sql, params) for sql, params in written]

    written = statements()
    monkeypatch.setattr(search, "own_where", lambda queryset: None)
    built = statements()
    return written, built


@pytest.mark.parametrize("films", FILTERED)
def test_the_signals_statements_written_out_are_the_ones_the_orm_builds(monkeypatch, films):
    from pgvector import HalfVector
    from pgvector.django import CosineDistance

    from catalog.querysets import indexed_embedding, indexed_story

    films = films()
    written, built = statements_both_ways(monkeypatch, films)
    assert written[:2] == built  # the title and keyword statements, character for character
    for story, sql in zip((True, False), written[2:], strict=True):
        qs = films.filter(embedding__isnull=False, embedding_model="m")
        vectors = indexed_story() if story else indexed_embedding()
        qs = qs.annotate(distance=CosineDistance(vectors, HalfVector([0.1] * 384))).order_by("distance")
        query = qs.values_list("pk", "distance")[:100]
        with connection.cursor() as cursor:
            assert sql == cursor.mogrify(*query.query.get_compiler(using=query.db).as_sql())


def test_films_read_through_a_join_go_through_the_orm_and_find_the_same():
    from moviesite.db import own_where

    joined = Movie.objects.visible().filter(genres__name="Drama")
    assert own_where(joined) is None and own_where(Movie.objects.none()) is None
    assert own_where(Movie.objects.visible()) == ('NOT "catalog_movie"."hidden"', [])
    films = Movie.objects.filter(pk__in=joined.values("pk"))
    assert search.title_scores(joined, "the godfather", limit=50) == search.title_scores(
        films, "the godfather", limit=50
    )
    vector = list(Movie.objects.exclude(embedding=None).values_list("embedding", flat=True)[0])
    model = Movie.objects.exclude(embedding=None).values_list("embedding_model", flat=True)[0]
    assert joined.nearest(vector, model=model, limit=20) == films.nearest(vector, model=model, limit=20)


def test_a_short_querys_quote_check_reads_no_bm25f_columns():
    films = Movie.objects.visible()
    short, plot = "the dark knight", "a police chief a marine biologist and a fisherman hunt the great white shark"
    for query, rescored in ((short, False), (plot, True)):
        ranking = search.keyword_scores(films, query, limit=100)
        quotes: list[tuple[int, float]] = []
        with CaptureQueriesContext(connection) as queries:
            search.bm25_rescore(films, ranking, query, quotes=quotes)
        (sql,) = [query["sql"] for query in queries.captured_queries if "phraseto_tsquery" in query["sql"]]
        # Field lengths and word occurrences are BM25F's, which re-scores described plots only.
        assert ("ts_filter" in sql) is rescored and ("unnest" in sql) is rescored
        if not rescored:
            assert [pk for pk, _ in quotes][:1] == [Movie.objects.get(title="The Dark Knight").pk]


def films_both_ways(monkeypatch, films, ids: list[int], **options) -> list[tuple[list[str], list[dict]]]:
    """`films.in_bulk_for_display(ids, **options)` with its statement written out and as the ORM builds it: the
    statements and, for each film in the answer's order, its attributes and its relations' rows."""
    from catalog import querysets

    def read() -> tuple[list[str], list[dict]]:
        with CaptureQueriesContext(connection) as queries:
            loaded = films.in_bulk_for_display(ids, **options)
        seen = []
        for pk, film in loaded.items():
            attributes = {name: value for name, value in vars(film).items() if not name.startswith("_")}
            relations = {name: list(cache) for name, cache in film._prefetched_objects_cache.items()}
            seen.append({"pk": pk, **attributes, **relations, "credit_people": [c.person for c in film.credits.all()]})
        return [query["sql"] for query in queries.captured_queries], seen

    written = read()
    monkeypatch.setattr(querysets, "own_where", lambda queryset: None)
    return [written, read()]


@pytest.mark.parametrize(
    ("films", "options"),
    [
        (lambda: Movie.objects.defer(*search.NOT_ON_A_PAGE), lambda ids: {"annotations": {"headline": None}}),
        (lambda: Movie.objects.defer(*search.NOT_ON_A_PAGE), lambda ids: {"annotations": {"headline": ids[::2]}}),
        (lambda: Movie.objects.visible(), lambda ids: {"details": True}),
        (lambda: Movie.objects.visible().filter_by(year_min=1990), lambda ids: {}),
        (lambda: Movie.objects.all(), lambda ids: {}),
    ],
)
def test_the_page_statement_written_out_is_the_one_the_orm_builds_and_makes_the_same_films(monkeypatch, films, options):
    ids = list(Movie.objects.filter(credits__isnull=False).distinct().values_list("pk", flat=True)[:20])
    bare = make_movie(title="Zyzzogeton Nights", year=None, hidden=True)  # no credit, genre or year
    ids.append(bare.pk)
    options = options(ids)
    if "annotations" in options:
        options["annotations"] = {"headline": search.headline(options["annotations"]["headline"] or [], "the war")}
    written, built = films_both_ways(monkeypatch, films(), ids, **options)
    assert written == built  # the same statement, character for character, and the same films
    assert len(written[0]) == 1  # one statement
    assert sum(bool(film["credits"]) for film in written[1]) >= 5
    assert {film["pk"] for film in written[1]} == set(films().filter(pk__in=ids).values_list("pk", flat=True))


def test_a_page_of_no_films_reads_nothing_and_a_queryset_with_a_join_goes_through_the_orm(monkeypatch):
    with CaptureQueriesContext(connection) as queries:
        assert Movie.objects.visible().in_bulk_for_display([]) == {}
    assert not queries.captured_queries
    ids = list(Movie.objects.filter(genres__isnull=False).distinct().values_list("pk", flat=True)[:5])
    joined = Movie.objects.visible().filter(genres__name__isnull=False).distinct()
    written, built = films_both_ways(monkeypatch, joined, ids)
    assert written == built and len(written[1]) == 5
    with pytest.raises(TypeError):  # as the ORM's in_bulk() refuses it
        Movie.objects.values("pk").in_bulk_for_display(ids)


def test_prefetched_rows_are_what_the_related_manager_gives_and_without_a_prefetch_its_own_query():
    from catalog.querysets import prefetched

    ids = list(Movie.objects.filter(credits__isnull=False).distinct().values_list("pk", flat=True)[:5])
    for films in (Movie.objects.in_bulk_for_display(ids), Movie.objects.for_display().in_bulk(ids)):
        for film in films.values():
            with CaptureQueriesContext(connection) as queries:
                rows = {relation: list(prefetched(film, relation)) for relation in ("genres", "credits")}
            assert not queries.captured_queries
            assert rows == {relation: list(getattr(film, relation).all()) for relation in ("genres", "credits")}
    film = Movie.objects.get(pk=ids[0])  # nothing prefetched: the manager's queryset, read when asked
    assert list(prefetched(film, "credits")) == list(film.credits.all()) and prefetched(film, "genres").query


def test_a_folded_title_is_the_importers_normalised_title_asked_again_or_not():
    from catalog.models import normalise_title

    titles = ["The Dark Knight", "Amélie", "Léon: The Professional", "A & B", "  ", "The", "Se7en", "WALL·E"]
    for title in [*titles, *titles]:  # the second time from the kept ones
        assert search.folded_title(title) == normalise_title(title)
    assert search.folded_title.cache_info().hits >= len(titles)


def test_a_query_vector_is_written_as_pgvector_writes_a_half_vector():
    import random

    from pgvector import HalfVector
    from pgvector.django import HalfVectorField

    from catalog.querysets import half_vector_text

    draw = random.Random(16)
    vectors = [[draw.gauss(0, scale) for _ in range(384)] for scale in (0.05, 0.3, 1e-5, 100.0)]
    vectors.append([0.0, -0.0, 1.0, -1.0, 6e-8, -6e-8, 65504.0, 1 / 3, 0.1, 2.0**-24, 2.0**-25, 1e-9])
    for vector in vectors:
        assert half_vector_text(vector) == HalfVectorField().get_prep_value(HalfVector(vector))
