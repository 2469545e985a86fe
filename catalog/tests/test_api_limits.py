"""The API's limits and error answers: throttling, maximum sizes, 400 for every bad parameter, 404 for every
unknown id, never a 500; and the schema that documents them."""

from __future__ import annotations

import io
import json

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from catalog.models import Movie
from catalog.tests.helpers import make_editor

pytestmark = pytest.mark.django_db

ANON_THROTTLE_KEY = AnonRateThrottle.cache_format % {"scope": "anon", "ident": "127.0.0.1"}


@pytest.fixture
def api() -> APIClient:
    cache.delete(ANON_THROTTLE_KEY)
    return APIClient()


@pytest.fixture
def film_id() -> int:
    return Movie.objects.get(title="The Godfather").pk


@pytest.fixture
def three_a_minute(monkeypatch, frozen_throttle_clock):
    # DRF reads the rates once, into the class; the setting alone would not reach it.
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute"})
    cache.delete(ANON_THROTTLE_KEY)
    yield
    cache.delete(ANON_THROTTLE_KEY)


# -- throttling ------------------------------------------------------------------------------------


def test_anonymous_clients_are_throttled_with_429_and_retry_after(api, three_a_minute):
    for _ in range(3):
        assert api.get("/api/genres/").status_code == 200
    response = api.get("/api/movies/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "Request was throttled" in response.json()["detail"]


def test_clients_with_a_token_are_not_throttled_as_anonymous(three_a_minute):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user("integrator")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert all(client.get("/api/genres/").status_code == 200 for _ in range(5))


# -- maximum sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, params, field",
    [
        ("/api/movies/", {"limit": 101}, "limit"),
        ("/api/movies/", {"limit": 0}, "limit"),
        ("/api/movies/", {"offset": 100_001}, "offset"),
        ("/api/movies/", {"director": "x" * 201}, "director"),
        ("/api/movies/", {"actor": "x" * 201}, "actor"),
        ("/api/movies/", {"language": "x" * 17}, "language"),
        ("/api/movies/", {"imdb_id": "x" * 17}, "imdb_id"),
        ("/api/movies/", {"genre": ["Drama"] * 11}, "genre"),
        ("/api/movies/", {"genre": "x" * 101}, "genre"),
        ("/api/movies/", {"tmdb_id": 2**31}, "tmdb_id"),
        ("/api/movies/", {"year_max": "1999.5"}, "year_max"),
        ("/api/search/", {"q": "x" * 1001}, "q"),
        ("/api/search/", {"genre": ["Drama"] * 11}, "genre"),
        ("/api/search/", {"offset": 1001}, "offset"),
        ("/api/search/", {"limit": 101}, "limit"),
        ("/api/autocomplete/", {"q": "x" * 301}, "q"),
        ("/api/autocomplete/", {"q": "x", "limit": 21}, "limit"),
        ("/api/genres/", {"limit": 1001}, "limit"),
        ("/api/people/", {"q": "x" * 301}, "q"),
        ("/api/people/", {"limit": 101}, "limit"),
    ],
)
def test_sizes_past_the_maximum_are_400_naming_the_parameter(api, path, params, field):
    response = api.get(path, params)
    assert response.status_code == 400
    assert field in response.json()


def test_the_largest_allowed_sizes_are_served(api, film_id):
    assert len(api.get("/api/movies/", {"limit": 100}).json()["results"]) == 100
    assert api.get("/api/movies/", {"offset": 100_000}).json()["results"] == []
    assert api.get("/api/search/", {"q": "x" * 1000, "offset": 1000, "limit": 100}).status_code == 200
    assert api.get("/api/genres/", {"limit": 1000}).status_code == 200
    assert len(api.get(f"/api/movies/{film_id}/similar/", {"limit": 100}).json()["results"]) == 100


def test_an_empty_optional_parameter_counts_as_absent(api):
    assert api.get("/api/movies/", {"limit": "", "year_min": "", "ordering": ""}).json()["count"] == (
        Movie.objects.visible().count()
    )
    assert api.get("/api/search/", {"q": "godfather", "limit": "", "mode": "", "alpha": ""}).status_code == 200
    assert api.get("/api/people/", {"role": "", "offset": ""}).status_code == 200


def test_an_inverted_year_range_is_simply_empty(api):
    assert api.get("/api/movies/", {"year_min": 2000, "year_max": 1990}).json()["count"] == 0


# -- unknown ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id", ["999999999", "0", "-1", "abc", "1.5", "1e3", "99999999999999999999999", "%00", "%D9%A3", "%20"]
)
@pytest.mark.parametrize("suffix", ["", "similar/"])
def test_unknown_ids_are_json_404s(api, bad_id, suffix):
    response = api.get(f"/api/movies/{bad_id}/{suffix}")
    assert response.status_code == 404
    assert response.json() == {"detail": "No film has this id."} or response.json() == {
        "detail": "No Movie matches the given query."
    }


# -- never a 500 -----------------------------------------------------------------------------------

ODD_VALUES = [
    "\x00",
    "a\x00b",
    "9" * 40,
    "-9" * 20,
    "1e309",
    "NaN",
    "-Infinity",
    "🎬 ünïcödé 映画",
    "\u202e\ufeff\u200b",
    "' OR 1=1 --",
    "%_\\",
    "x" * 5000,
    "<script>",
    "[]",
    "{}",
]
GET_ENDPOINTS = {
    "/api/movies/": [
        "genre",
        "year_min",
        "year_max",
        "director",
        "actor",
        "language",
        "tmdb_id",
        "imdb_id",
        "ordering",
        "limit",
        "offset",
    ],
    "/api/search/": [
        "q",
        "mode",
        "alpha",
        "ordering",
        "limit",
        "offset",
        "genre",
        "year_min",
        "year_max",
        "director",
        "actor",
        "language",
    ],
    "/api/autocomplete/": ["q", "limit"],
    "/api/genres/": ["limit", "offset"],
    "/api/people/": ["q", "role", "limit", "offset"],
    "/api/movies/{id}/": [],
    "/api/movies/{id}/similar/": ["method", "limit"],
}


@pytest.mark.parametrize("value", ODD_VALUES)
@pytest.mark.parametrize("path", list(GET_ENDPOINTS))
def test_odd_values_in_any_parameter_never_make_a_server_error(api, film_id, path, value):
    url = path.format(id=film_id)
    for name in GET_ENDPOINTS[path]:
        response = api.get(url, {name: value, **({"q": "godfather"} if name != "q" else {})})
        assert response.status_code in {200, 400}, (name, response.status_code)
        assert response.json() is not None
        if response.status_code == 400:
            assert name in response.json()


@pytest.mark.parametrize("value", ODD_VALUES)
def test_odd_values_in_a_written_film_never_make_a_server_error(film_id, value):
    from rest_framework.authtoken.models import Token

    staff = APIClient()
    user = make_editor("odd-editor")
    staff.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    fields = ["title", "year", "release_date", "imdb_id", "tmdb_id", "vote_average", "poster_url", "countries"]
    for name in fields:
        for body in ({name: value}, {name: [value]}, {"cast": [value]}, {"genres": [value, value]}):
            response = staff.patch(f"/api/movies/{film_id}/", body, format="json")
            assert response.status_code in {200, 400}, (body, response.status_code)


def test_a_body_that_is_not_an_object_is_a_400(film_id):
    from rest_framework.authtoken.models import Token

    staff = APIClient()
    user = make_editor("list-editor")
    staff.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    for body in ("[1, 2]", '"text"', "null", "1e999"):
        response = staff.post("/api/movies/", data=body, content_type="application/json")
        assert response.status_code == 400, body


def test_texts_too_long_to_index_and_bodies_too_big_to_read_are_refused(film_id):
    from rest_framework.authtoken.models import Token

    staff = APIClient()
    user = make_editor("long-editor")
    staff.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    words = " ".join(f"word{n}" for n in range(200_000))  # ~1.5 MB of distinct words
    response = staff.patch(f"/api/movies/{film_id}/", {"plot": words}, format="json")
    assert response.status_code == 400 and "plot" in response.json()
    huge = staff.patch(f"/api/movies/{film_id}/", {"plot": "x" * 3_000_000}, format="json")
    assert huge.status_code in {400, 413}


# -- the schema ------------------------------------------------------------------------------------


def test_the_schema_is_valid_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    schema = json.loads(out.getvalue())
    assert {"/api/genres/", "/api/people/", "/api/movies/{id}/"} <= set(schema["paths"])


def test_the_schema_documents_errors_limits_and_who_may_write(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()
    movies, movie = schema["paths"]["/api/movies/"], schema["paths"]["/api/movies/{id}/"]
    for operation in (movies["get"], movies["post"], movie["get"], movie["patch"], movie["delete"]):
        assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert {"400", "401", "403", "415"} <= set(movies["post"]["responses"])
    assert {"401", "403", "404"} <= set(movie["delete"]["responses"])
    assert "404" in movie["get"]["responses"]
    assert {} in movies["get"]["security"] and {} not in movies["post"]["security"]
    assert {"tokenAuth": []} in movies["post"]["security"]
    limit = next(p for p in movies["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"] | {"type": "integer", "minimum": 1, "maximum": 100} == limit["schema"]
    written = schema["components"]["schemas"]["MovieWritten"]["properties"]["vector_status"]
    assert "embed_movies" in written["description"]
