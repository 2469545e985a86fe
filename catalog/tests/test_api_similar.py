"""The API's similar films (every method) and recommendations, over real HTTP routing with the test client."""

from __future__ import annotations

import pytest

from catalog.models import Movie

pytestmark = pytest.mark.django_db

MOVIE_FIELDS = {
    "id", "title", "year", "genres", "directors", "cast", "overview", "poster_url",
    "vote_average", "popularity", "tmdb_id", "imdb_id",
}  # fmt: skip


def pk(title: str) -> int:
    return Movie.objects.get(title=title).pk


@pytest.mark.parametrize("method", ["blend", "cf", "knn", "svm", "tfidf"])
def test_similar_returns_40_ranked_films_with_reasons(client, method):
    response = client.get(f"/api/movies/{pk('The Godfather')}/similar/", {"method": method})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 40
    assert pk("The Godfather") not in [film["id"] for film in results]
    assert set(results[0]) == MOVIE_FIELDS | {"score", "why"}
    sequel = next(film for film in results if film["title"] == "The Godfather Part II")
    assert "Al Pacino" in sequel["why"]["people"]
    assert ("terms" in sequel["why"]) == (method == "tfidf")


def test_similar_takes_a_limit_a_prior_and_the_svms_c(client):
    url = f"/api/movies/{pk('Alien')}/similar/"
    assert len(client.get(url, {"limit": 5}).json()["results"]) == 5
    response = client.get(url, {"method": "svm", "C": "1.5", "prior": "0", "limit": 10})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 10


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"method": "bm25"}, "method"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"C": "0"}, "C"),
        ({"C": "nan"}, "C"),
        ({"prior": "2"}, "prior"),
        ({"prior": "inf"}, "prior"),
    ],
)
def test_bad_similar_parameters_are_a_400_naming_the_parameter(client, params, field):
    response = client.get(f"/api/movies/{pk('Alien')}/similar/", params)
    assert response.status_code == 400
    assert field in str(response.json())


def test_similar_of_an_unknown_or_hidden_film_is_a_404(client):
    assert client.get("/api/movies/999999999/similar/").status_code == 404
    Movie.objects.filter(title="Alien").update(hidden=True)
    assert client.get(f"/api/movies/{pk('Alien')}/similar/", {"method": "svm"}).status_code == 404


@pytest.mark.parametrize("method", ["svm", "centroid"])
def test_recommendations_from_liked_and_disliked_films(client, method):
    liked = [pk("Alien"), pk("The Terminator"), pk("Blade Runner")]
    body = {"liked": liked, "disliked": [pk("Aliens")], "limit": 12, "method": method}
    response = client.post("/api/recommendations/", body, content_type="application/json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 12
    ids = [film["id"] for film in results]
    assert not set(ids) & {*liked, pk("Aliens")}
    assert all(film["why"]["because_you_liked"][0].split(" (")[0] in {"Alien", "The Terminator", "Blade Runner"}
               for film in results)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "liked"),
        ({"liked": []}, "liked"),
        ({"liked": "12"}, "liked"),
        ({"liked": [999999999]}, "liked"),
        ({"liked": [1], "limit": 500}, "limit"),
        ({"liked": [1], "method": "magic"}, "method"),
    ],
)
def test_bad_recommendation_requests_are_a_400(client, body, field):
    if body.get("liked") == [1]:
        body["liked"] = [pk("Alien")]
    response = client.post("/api/recommendations/", body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_film_both_liked_and_disliked_is_a_400(client):
    body = {"liked": [pk("Alien")], "disliked": [pk("Alien")]}
    response = client.post("/api/recommendations/", body, content_type="application/json")
    assert response.status_code == 400
    assert "disliked" in response.json()


def test_recommendations_only_answer_post(client):
    assert client.get("/api/recommendations/").status_code == 405
