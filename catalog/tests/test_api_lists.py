"""The lists an integrator builds filters from: genres and people, with their numbers of visible films."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from catalog.models import Movie
from catalog.tests.helpers import make_movie

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    cache.delete(AnonRateThrottle.cache_format % {"scope": "anon", "ident": "127.0.0.1"})
    return APIClient()


def genre_counts(api: APIClient) -> dict[str, int]:
    body = api.get("/api/genres/").json()
    return {genre["name"]: genre["film_count"] for genre in body["results"]}


# -- genres ----------------------------------------------------------------------------------------


def test_genres_list_names_slugs_and_visible_film_counts(api):
    response = api.get("/api/genres/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["next"] is None  # all the genres in one page by default
    names = [genre["name"] for genre in body["results"]]
    assert names == sorted(names)
    crime = next(genre for genre in body["results"] if genre["name"] == "Crime")
    assert crime == {
        "name": "Crime",
        "slug": "crime",
        "film_count": Movie.objects.visible().filter(genres__name="Crime").count(),
    }


def test_genre_counts_leave_hidden_films_out_and_empty_genres_go(api):
    crime_before = genre_counts(api)["Crime"]
    Movie.objects.filter(title="The Godfather").update(hidden=True)
    make_movie(title="Secret Film", genres=("Mumblecore",), hidden=True)
    counts = genre_counts(api)
    assert counts["Crime"] == crime_before - 1
    assert "Mumblecore" not in counts


def test_genres_are_paginated_when_asked(api):
    body = api.get("/api/genres/", {"limit": 2, "offset": 1}).json()
    everything = api.get("/api/genres/").json()
    assert [genre["name"] for genre in body["results"]] == [genre["name"] for genre in everything["results"][1:3]]
    assert "offset=3" in body["next"]
    assert api.get("/api/genres/", {"limit": 1001}).status_code == 400


def test_a_genre_slug_from_the_list_filters_the_movie_list(api):
    slug = next(genre["slug"] for genre in api.get("/api/genres/").json()["results"] if genre["name"] == "Western")
    films = api.get("/api/movies/", {"genre": slug, "limit": 100}).json()
    assert films["count"] == genre_counts(api)["Western"]
    assert all("Western" in movie["genres"] for movie in films["results"])


# -- people ----------------------------------------------------------------------------------------


def test_people_are_found_by_the_start_of_any_word_of_their_name(api):
    response = api.get("/api/people/", {"q": "nolan"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["results"][0] == {
        "id": body["results"][0]["id"],
        "name": "Christopher Nolan",
        "film_count": Movie.objects.visible().filter(credits__person__name="Christopher Nolan").distinct().count(),
    }


def test_names_starting_with_the_query_come_first_whole_words_and_the_busiest_first(api):
    results = api.get("/api/people/", {"q": "tom", "limit": 100}).json()["results"]
    starting = [person for person in results if person["name"].lower().startswith("tom")]
    assert results[: len(starting)] == starting
    toms = [person for person in starting if person["name"].startswith("Tom ")]
    assert starting[: len(toms)] == toms  # "Tom Hanks" before "Tommy Lee Jones"
    assert toms[0]["name"] == "Tom Hanks"
    counts = [person["film_count"] for person in toms]
    assert counts == sorted(counts, reverse=True)


def test_a_misspelt_name_is_still_found(api):
    assert api.get("/api/people/", {"q": "kubrik"}).json()["results"][0]["name"] == "Stanley Kubrick"
    assert api.get("/api/people/", {"q": "spielburg"}).json()["results"][0]["name"] == "Steven Spielberg"
    assert api.get("/api/people/", {"q": "scorcese"}).json()["results"][0]["name"] == "Martin Scorsese"


def test_the_role_filter_counts_that_role_only(api):
    directors = api.get("/api/people/", {"q": "eastwood", "role": "director"}).json()["results"]
    actors = api.get("/api/people/", {"q": "eastwood", "role": "cast"}).json()["results"]
    clint_directed = next(person for person in directors if person["name"] == "Clint Eastwood")
    clint_acted = next(person for person in actors if person["name"] == "Clint Eastwood")
    visible = Movie.objects.visible()
    assert clint_directed["film_count"] == visible.filter_by(director="Clint Eastwood").count()
    assert clint_acted["film_count"] == visible.filter_by(actor="Clint Eastwood").count()
    assert "Tom Hanks" not in [
        p["name"] for p in api.get("/api/people/", {"q": "tom", "role": "director"}).json()["results"]
    ]


def test_a_directors_name_from_the_list_filters_the_movie_list(api):
    nolan = api.get("/api/people/", {"q": "christopher nolan", "role": "director"}).json()["results"][0]
    films = api.get("/api/movies/", {"director": nolan["name"], "limit": 100}).json()
    assert films["count"] == nolan["film_count"]


def test_without_a_query_the_busiest_people_come_first(api):
    body = api.get("/api/people/", {"limit": 5}).json()
    counts = [person["film_count"] for person in body["results"]]
    assert counts == sorted(counts, reverse=True) and counts[0] >= 9
    assert body["count"] > 500  # everyone credited, five at a time
    assert "offset=5" in body["next"]


def test_people_only_in_hidden_films_are_left_out(api):
    make_movie(title="Secret Film", directors=("Ophelia Underwood-Nash",), hidden=True)
    assert api.get("/api/people/", {"q": "Underwood-Nash"}).json()["count"] == 0


@pytest.mark.parametrize(
    "params, field",
    [
        ({"role": "producer"}, "role"),
        ({"q": "x" * 301}, "q"),
        ({"q": "nul\x00byte"}, "q"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"limit": "ten"}, "limit"),
    ],
)
def test_people_reject_bad_parameters_with_400(api, params, field):
    response = api.get("/api/people/", params)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("query", ["", "   ", "%", "_", "'", "O'Brien", "ünïcödé 映画", "🎬", "a" * 300])
def test_people_answer_odd_queries(api, query):
    assert api.get("/api/people/", {"q": query}).status_code == 200
