"""Attacks on who may write and what the public may see (issue 17): a staff user without model permissions,
hidden-only names, poster URLs that point at private hosts, and the security headers."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from catalog.models import Movie
from catalog.tests.helpers import make_editor, make_movie
from catalog.validators import poster_url_problem

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


# -- model permissions --------------------------------------------------------------------------------


def test_a_staff_user_without_model_permissions_cannot_create_change_or_delete(client):
    user = get_user_model().objects.create_user("bare-staff", is_staff=True, password="x-long-password-1")
    film = Movie.objects.get(title="The Godfather")
    api = token_client(user)
    assert api.post("/api/movies/", {"title": "Injected"}, format="json").status_code == 403
    assert api.patch(f"/api/movies/{film.pk}/", {"title": "Renamed"}, format="json").status_code == 403
    assert api.delete(f"/api/movies/{film.pk}/").status_code == 403
    assert Movie.objects.filter(pk=film.pk, title="The Godfather").exists()
    assert not Movie.objects.filter(title="Injected").exists()
    # The admin refuses the same user the same change.
    client.force_login(user)
    assert client.get(f"/admin/catalog/movie/{film.pk}/change/").status_code == 403


def test_each_write_needs_its_own_permission():
    user = get_user_model().objects.create_user("changer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_movie"))
    film = Movie.objects.get(title="The Godfather")
    api = token_client(user)
    assert api.patch(f"/api/movies/{film.pk}/", {"tagline": "An offer."}, format="json").status_code == 200
    assert api.delete(f"/api/movies/{film.pk}/").status_code == 403
    assert api.post("/api/movies/", {"title": "New"}, format="json").status_code == 403


def test_an_editor_with_the_permissions_still_writes():
    api = token_client(make_editor("full-editor"))
    response = api.post("/api/movies/", {"title": "Allowed", "year": 2001}, format="json")
    assert response.status_code == 201


# -- hidden-only names --------------------------------------------------------------------------------


@pytest.fixture
def secret_film() -> Movie:
    return make_movie(
        title="Unreleased Secret Cut",
        genres=("Secretgenre",),
        keywords=("secretkeyword",),
        directors=("Secret Director",),
        cast=("Secret Actor",),
        hidden=True,
    )


def test_hidden_only_genres_keywords_and_people_are_never_listed(client, secret_film):
    api = APIClient()
    assert "Secretgenre" not in client.get("/").content.decode()
    assert "secretgenre" not in client.get("/", {"q": "secret"}).content.decode().lower()
    assert "Secretgenre" not in str(api.get("/api/genres/").json())
    for query in ("Secret", "secret director", ""):
        assert "Secret" not in str(api.get("/api/people/", {"q": query}).json())
    assert "Secret" not in str(api.get("/api/autocomplete/", {"q": "Unreleased"}).json())
    found = api.get("/api/search/", {"q": "secretkeyword unreleased", "mode": "keyword"}).json()["results"]
    assert "Unreleased Secret Cut" not in [film["title"] for film in found]
    assert client.get("/", {"genre": "secretgenre"}).status_code == 400  # not a choice the public has


# -- posters --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/p.jpg",
        "javascript:alert(1)",
        "data:image/gif;base64,R0lGOD",
        "http://user:pass@example.com/p.jpg",
        "http://127.0.0.1/p.jpg",
        "http://10.0.0.8/p.jpg",
        "http://192.168.1.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/p.jpg",
        "http://localhost:8000/p.jpg",
        "http://router.local/p.jpg",
        "http://intranet/p.jpg",
    ],
)
def test_posters_on_private_hosts_or_other_schemes_are_refused_everywhere(url):
    assert poster_url_problem(url)
    film = Movie.objects.get(title="The Godfather")
    response = token_client(make_editor("poster-editor")).patch(
        f"/api/movies/{film.pk}/", {"poster_url": url}, format="json"
    )
    assert response.status_code == 400 and "poster_url" in response.json()
    film.poster_url = url
    with pytest.raises(ValidationError, match="poster"):
        film.full_clean()


def test_public_https_posters_are_accepted():
    assert poster_url_problem("https://image.tmdb.org/t/p/w500/abc.jpg") is None
    assert poster_url_problem("http://93.184.216.34/p.jpg") is None


def test_a_stored_poster_that_is_not_http_is_not_rendered(client):
    film = make_movie(title="Stored Before The Rule", poster_url="javascript:alert(1)")
    Movie.objects.filter(pk=film.pk).update(poster_url="http://192.168.0.1/x.jpg")
    page = client.get(film.get_absolute_url()).content.decode()
    assert "192.168.0.1" not in page and "<img" not in page.split("poster-placeholder")[1].split("</div>")[1]


def test_the_importer_drops_private_poster_urls():
    from catalog.importers.formats import _poster

    assert _poster("http://10.0.0.1/x.jpg") == ""
    assert _poster("https://m.media-amazon.com/images/x.jpg") == "https://m.media-amazon.com/images/x.jpg"


# -- headers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/api/movies/", "/healthz", "/admin/login/"])
def test_every_response_carries_a_csp_and_a_permissions_policy(client, path):
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("style-src-attr")[0]
    assert "img-src 'self' https:" in policy and "frame-ancestors 'none'" in policy
    assert "camera=()" in response["Permissions-Policy"]


def test_the_api_docs_get_what_swagger_ui_needs_and_no_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert "style-src 'self' 'unsafe-inline'" in response["Content-Security-Policy"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    page = response.content.decode()
    assert "<script>" not in page  # the init script comes from its own URL (SpectacularSwaggerSplitView)
    assert client.get("/api/docs/?script=").status_code == 200


def test_an_odd_method_by_staff_on_a_view_without_a_model_is_a_405_not_a_500():
    api = token_client(make_editor("trace-editor"))
    assert api.generic("TRACE", "/api/autocomplete/?q=").status_code == 405
    assert api.post("/api/search/").status_code == 405
