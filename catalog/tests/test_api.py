"""Every endpoint of the API over real HTTP semantics (the test client): shapes, filters, 400s and 404s."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from catalog.models import Movie

pytestmark = pytest.mark.django_db

MOVIE_FIELDS = {
    "id", "title", "year", "genres", "directors", "cast", "overview", "poster_url", "vote_average",
    "popularity", "tmdb_id", "imdb_id",
}  # fmt: skip


@pytest.fixture
def api() -> APIClient:
    # Every test starts with a fresh anonymous allowance, however many requests the tests before it made.
    cache.delete(AnonRateThrottle.cache_format % {"scope": "anon", "ident": "127.0.0.1"})
    return APIClient()


@pytest.fixture
def godfather() -> Movie:
    return Movie.objects.get(title="The Godfather")


def test_movie_list_is_paginated_with_the_contract_fields(api):
    response = api.get("/api/movies/", {"limit": 5})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == Movie.objects.visible().count()
    assert len(body["results"]) == 5
    assert set(body["results"][0]) == MOVIE_FIELDS
    assert "offset=5" in body["next"]


def test_movie_list_filters(api):
    def titles(**params) -> set[str]:
        response = api.get("/api/movies/", {"limit": 100, **params})
        assert response.status_code == 200, response.content
        return {movie["title"] for movie in response.json()["results"]}

    assert titles(tmdb_id=238) == {"The Godfather"}
    assert titles(imdb_id="tt0068646") == {"The Godfather"}
    assert titles(director="coppola", year_max=1975) == {"The Godfather", "The Godfather Part II"}
    assert "Jaws" in titles(actor="roy scheider")
    japanese = titles(language="ja", year_min=1950, year_max=1959)
    assert "Seven Samurai" in japanese and "Tokyo Story" in japanese
    drama_and_crime = titles(genre=["Crime", "Drama"], year_max=1975)
    assert "The Godfather" in drama_and_crime and "Jaws" not in drama_and_crime


def test_movie_list_ordering(api):
    response = api.get("/api/movies/", {"ordering": "year", "limit": 3})
    years = [movie["year"] for movie in response.json()["results"]]
    assert years == sorted(years)
    newest = api.get("/api/movies/", {"ordering": "-year", "limit": 1}).json()["results"][0]
    assert newest["year"] == max(Movie.objects.values_list("year", flat=True))
    titles = [movie["title"] for movie in api.get("/api/movies/", {"ordering": "title"}).json()["results"]]
    assert titles == sorted(titles)
    ratings = [m["vote_average"] for m in api.get("/api/movies/", {"ordering": "rating"}).json()["results"]]
    assert ratings == sorted(ratings, reverse=True)


def test_movie_list_browses_featured_films_first_by_default(api):
    first = api.get("/api/movies/", {"limit": 1}).json()["results"][0]
    assert Movie.objects.get(pk=first["id"]).featured


def test_movie_list_pages_link_to_each_other(api):
    page = api.get("/api/movies/", {"limit": 10, "offset": 10}).json()
    assert "limit=10" in page["next"] and "offset=20" in page["next"]
    assert "offset" not in page["previous"]  # back to the first page
    assert api.get(page["next"]).json()["results"][0]["id"] not in [movie["id"] for movie in page["results"]]
    last = api.get("/api/movies/", {"limit": 10, "offset": page["count"] - 1}).json()
    assert len(last["results"]) == 1 and last["next"] is None


def test_movie_list_filters_ignore_empty_and_unknown_parameters(api):
    everything = Movie.objects.visible().count()
    assert api.get("/api/movies/", {"genre": "", "director": "", "colour": "blue"}).json()["count"] == everything


def test_unknown_genre_or_external_id_finds_nothing(api):
    assert api.get("/api/movies/", {"genre": "Mumblecore"}).json()["count"] == 0
    assert api.get("/api/movies/", {"tmdb_id": 2**31 - 1}).json()["count"] == 0
    assert api.get("/api/movies/", {"imdb_id": "tt0000000"}).json()["count"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"year_min": "abc"},
        {"year_min": "99999999999999999999"},
        {"ordering": "nonsense"},
        {"limit": "x"},
        {"tmdb_id": "-3"},
        {"tmdb_id": "1.5"},
        {"genre": "bad\x00byte"},
        {"genre": ["Drama", "bad\x00byte"]},
        {"director": "bad\x00byte"},
    ],
)
def test_movie_list_rejects_bad_parameters_with_400(api, params):
    response = api.get("/api/movies/", params)
    assert response.status_code == 400
    assert response.json()


def test_movie_detail_has_external_ids_and_full_facts(api, godfather):
    response = api.get(f"/api/movies/{godfather.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["imdb_id"] == "tt0068646" and body["tmdb_id"] == 238
    assert body["directors"] == ["Francis Ford Coppola"]
    assert body["cast"][:2] == ["Marlon Brando", "Al Pacino"]
    assert "mafia" in body["keywords"]
    assert "embedding" not in body


def test_unknown_and_hidden_movies_are_404(api, godfather):
    assert api.get("/api/movies/999999999/").status_code == 404
    assert api.get("/api/movies/abc/").status_code == 404
    godfather.hidden = True
    godfather.save()
    assert api.get(f"/api/movies/{godfather.pk}/").status_code == 404
    assert godfather.pk not in [m["id"] for m in api.get("/api/movies/", {"limit": 100}).json()["results"]]


def test_similar_returns_forty_scored_films_with_reasons(api, godfather):
    response = api.get(f"/api/movies/{godfather.pk}/similar/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 40
    assert godfather.pk not in [movie["id"] for movie in results]
    assert set(results[0]) == MOVIE_FIELDS | {"score", "why"}
    assert results[0]["score"] >= results[-1]["score"]
    sequel = next(movie for movie in results if movie["title"] == "The Godfather Part II")
    assert "Francis Ford Coppola" in sequel["why"]["people"]
    assert "Crime" in sequel["why"]["genres"]


def test_similar_parameters_are_validated(api, godfather):
    assert len(api.get(f"/api/movies/{godfather.pk}/similar/", {"limit": 5}).json()["results"]) == 5
    for params in ({"limit": 0}, {"limit": 1000}, {"method": "magic"}):
        response = api.get(f"/api/movies/{godfather.pk}/similar/", params)
        assert response.status_code == 400
        assert next(iter(params)) in response.json()
    assert api.get("/api/movies/999999999/similar/").status_code == 404


def test_search_puts_the_godfather_first(api):
    response = api.get("/api/search/", {"q": "godfather"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] >= 2
    assert body["results"][0]["title"] == "The Godfather"
    assert set(body["results"][0]) == MOVIE_FIELDS | {"score", "matched", "snippet"}


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_search_modes_with_filters_limit_and_offset(api, mode):
    params = {"q": "mafia family", "mode": mode, "year_max": 1980, "limit": 2}
    first = api.get("/api/search/", params).json()
    second = api.get("/api/search/", {**params, "offset": 2}).json()
    assert len(first["results"]) == 2
    assert all(movie["year"] <= 1980 for movie in first["results"] + second["results"])
    assert not {m["id"] for m in first["results"]} & {m["id"] for m in second["results"]}


def test_search_with_an_empty_query_browses(api):
    body = api.get("/api/search/", {"q": ""}).json()
    assert body["count"] == Movie.objects.visible().count()
    assert Movie.objects.get(pk=body["results"][0]["id"]).featured


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x", "mode": "fuzzy"},
        {"q": "x", "alpha": "2"},
        {"q": "x", "alpha": "nan"},
        {"q": "x", "limit": "500"},
        {"q": "x", "offset": "-1"},
        {"q": "x", "offset": "10000000000000000000000"},
        {"q": "a" * 1001},
        {"q": "bad\x00byte"},
        {"q": "x", "year_min": "1e9"},
        {"q": "x", "ordering": "random"},
    ],
)
def test_search_rejects_bad_parameters_with_400(api, params):
    response = api.get("/api/search/", params)
    assert response.status_code == 400
    assert response.json()


@pytest.mark.parametrize("query", ["", "   ", "🎬 ünïcödé 映画", "' OR 1=1 --", "!!! & | :*", "a" * 1000])
def test_search_answers_odd_queries(api, query):
    assert api.get("/api/search/", {"q": query}).status_code == 200


def test_autocomplete_lists_titles(api):
    response = api.get("/api/autocomplete/", {"q": "the godf"})
    assert response.status_code == 200
    assert response.json()[0] == {
        "id": Movie.objects.get(title="The Godfather").pk,
        "title": "The Godfather",
        "year": 1972,
    }
    assert api.get("/api/autocomplete/", {"q": "interstelar"}).json()[0]["title"] == "Interstellar"
    assert api.get("/api/autocomplete/").status_code == 400


def test_writes_are_refused_to_anonymous_clients(api, godfather):
    assert api.patch(f"/api/movies/{godfather.pk}/", {"title": "x"}, format="json").status_code == 401
    assert api.post("/api/movies/", {"title": "x"}, format="json").status_code == 401
    assert api.delete(f"/api/movies/{godfather.pk}/").status_code == 401


def test_the_schema_and_docs_are_served(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/movies/", "/api/movies/{id}/", "/api/movies/{id}/similar/", "/api/search/"} <= set(paths)
    assert {"/api/autocomplete/", "/api/genres/", "/api/people/"} <= set(paths)
    docs = api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_the_browsable_api_is_kept(api):
    response = api.get("/api/movies/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Movie List" in response.content
