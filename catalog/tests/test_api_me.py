"""The /api/me/ endpoints: a user's own ratings, an export to import, recommendations; all need credentials
and none reaches another user's ratings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Movie, Rating

pytestmark = pytest.mark.django_db

LETTERBOXD = b"Date,Name,Year,Letterboxd URI,Rating\n2024-01-02,Jaws,1975,x,4\n2024-01-03,Nope,2001,y,3\n2024,Alien\n"


def film(title: str) -> Movie:
    return Movie.objects.get(title=title)


@pytest.fixture
def member():
    return get_user_model().objects.create_user("member")


@pytest.fixture
def api(member) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=member).key}")
    return client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/me/ratings/1/"),
        ("put", "/api/me/ratings/1/"),
        ("delete", "/api/me/ratings/1/"),
        ("post", "/api/me/ratings/import/"),
        ("get", "/api/me/recommendations/"),
    ],
)
def test_anonymous_clients_get_a_401(method, path):
    response = getattr(APIClient(), method)(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_user_sets_reads_and_removes_a_rating(api, member):
    jaws = film("Jaws")
    response = api.put(f"/api/me/ratings/{jaws.pk}/", {"stars": 3.5}, format="json")
    assert response.status_code == 200
    assert response.json()["stars"] == 3.5
    assert api.get(f"/api/me/ratings/{jaws.pk}/").json()["movie_id"] == jaws.pk
    assert api.delete(f"/api/me/ratings/{jaws.pk}/").status_code == 204
    assert api.get(f"/api/me/ratings/{jaws.pk}/").status_code == 404
    assert not Rating.objects.filter(user=member).exists()


def test_another_users_rating_is_never_reached(api, member):
    other = get_user_model().objects.create_user("other")
    jaws = film("Jaws")
    Rating.objects.create(user=other, movie=jaws, stars=Decimal("1"))
    assert api.get(f"/api/me/ratings/{jaws.pk}/").status_code == 404
    assert api.delete(f"/api/me/ratings/{jaws.pk}/").status_code == 404
    api.put(f"/api/me/ratings/{jaws.pk}/", {"stars": 5}, format="json")
    assert Rating.objects.get(user=other).stars == Decimal("1")
    assert Rating.objects.get(user=member).stars == Decimal("5")


@pytest.mark.parametrize("stars", [0, 5.5, 3.3, "x", None, -1])
def test_stars_outside_half_steps_are_a_400(api, stars):
    response = api.put(f"/api/me/ratings/{film('Jaws').pk}/", {"stars": stars}, format="json")
    assert response.status_code == 400
    assert "stars" in response.json()


@pytest.mark.parametrize("movie_id", ["0", "1.5", "abc", "99999999999999999999", "999999"])
def test_a_film_id_naming_no_visible_film_is_a_404(api, movie_id):
    assert api.put(f"/api/me/ratings/{movie_id}/", {"stars": 4}, format="json").status_code == 404


def test_a_hidden_film_cannot_be_rated(api):
    jaws = film("Jaws")
    Movie.objects.filter(pk=jaws.pk).update(hidden=True)
    assert api.put(f"/api/me/ratings/{jaws.pk}/", {"stars": 4}, format="json").status_code == 404


def test_an_export_uploads_through_the_api(api, member):
    upload = SimpleUploadedFile("ratings.csv", LETTERBOXD, content_type="text/csv")
    response = api.post("/api/me/ratings/import/", {"file": upload}, format="multipart")
    assert response.status_code == 200
    body = response.json()
    assert (body["format"], body["matched"], body["created"]) == ("letterboxd", 1, 1)
    assert body["unmatched"] == [{"line": 3, "title": "Nope", "year": 2001}]
    assert [row["line"] for row in body["skipped"]] == [4]
    assert Rating.objects.get(user=member).movie == film("Jaws")


def test_a_session_uploads_too(member):
    client = APIClient()
    client.force_login(member)
    upload = SimpleUploadedFile("ratings.csv", LETTERBOXD, content_type="text/csv")
    assert client.post("/api/me/ratings/import/", {"file": upload}, format="multipart").status_code == 200


@pytest.mark.parametrize("data", [b"not,a,ratings,file\n1,2,3,4\n", b"\x00\xff"])
def test_a_file_that_is_no_export_is_a_400(api, data):
    upload = SimpleUploadedFile("ratings.csv", data, content_type="text/csv")
    response = api.post("/api/me/ratings/import/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()


def test_an_upload_without_a_file_is_a_400(api):
    assert api.post("/api/me/ratings/import/", {}, format="multipart").status_code == 400


def test_recommendations_leave_out_rated_and_hidden_films(api, member):
    liked = [film("The Godfather"), film("The Godfather Part II")]
    for movie in liked:
        Rating.objects.create(user=member, movie=movie, stars=Decimal("5"))
    first = api.get("/api/me/recommendations/?limit=10").json()["results"]
    assert len(first) == 10
    hidden = first[0]["id"]
    Movie.objects.filter(pk=hidden).update(hidden=True)
    results = api.get("/api/me/recommendations/?limit=40").json()["results"]
    ids = {result["id"] for result in results}
    assert len(results) == 40
    assert not ids & {movie.pk for movie in liked}
    assert hidden not in ids
    assert all(result["why"].get("because_you_liked") for result in results)


def test_a_user_without_ratings_gets_popular_films(api):
    results = api.get("/api/me/recommendations/").json()["results"]
    assert len(results) == 40
    assert all(result["why"].get("popular") for result in results)


@pytest.mark.parametrize("limit", ["0", "101", "x", "-1"])
def test_a_bad_limit_is_a_400(api, limit):
    assert api.get(f"/api/me/recommendations/?limit={limit}").status_code == 400


def test_the_schema_documents_the_me_endpoints_as_needing_credentials(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/me/recommendations/"]["get"]
    assert {} not in operation["security"]
    assert "401" in operation["responses"]
    assert "/api/me/ratings/import/" in schema["paths"]
    assert "/api/me/ratings/{movie_id}/" in schema["paths"]
