"""Staff writes through the API: token authentication, POST / PATCH / DELETE on films, their validation, and
what a write refreshes (search text, updated_at) or leaves stale (the vector)."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from catalog.models import Credit, Genre, Keyword, Movie, Person
from catalog.tests.helpers import make_editor

pytestmark = pytest.mark.django_db

User = get_user_model()


def client_with_token(*, is_staff: bool) -> APIClient:
    user = make_editor("staff-editor") if is_staff else User.objects.create_user("reader")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def api() -> APIClient:
    cache.delete(AnonRateThrottle.cache_format % {"scope": "anon", "ident": "127.0.0.1"})
    return APIClient()


@pytest.fixture
def staff() -> APIClient:
    return client_with_token(is_staff=True)


@pytest.fixture
def godfather() -> Movie:
    return Movie.objects.get(title="The Godfather")


NEW_FILM = {
    "title": "The Lighthouse Keeper's Daughter",
    "year": 2031,
    "overview": "A keeper's daughter signals ships through a winter of storms.",
    "genres": ["drama", "science-fiction"],
    "keywords": ["lighthouse", "Winter Storm"],
    "directors": ["Agnes Quillfeather"],
    "cast": ["Marlon Brando", "Brunhilde Okonkwo-Lindqvist"],
    "tmdb_id": 987654321,
    "imdb_id": "tt9876543",
}


# -- who may write ---------------------------------------------------------------------------------


def test_anonymous_writes_are_401_with_a_token_challenge(api, godfather):
    for response in (
        api.post("/api/movies/", NEW_FILM, format="json"),
        api.patch(f"/api/movies/{godfather.pk}/", {"title": "x"}, format="json"),
        api.delete(f"/api/movies/{godfather.pk}/"),
    ):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Token"
        assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert Movie.objects.get(pk=godfather.pk).title == "The Godfather"


def test_a_wrong_token_is_401(api, godfather):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get("/api/movies/").status_code == 401
    assert api.patch(f"/api/movies/{godfather.pk}/", {"title": "x"}, format="json").status_code == 401


def test_a_token_that_is_not_staff_reads_but_cannot_write(godfather):
    reader = client_with_token(is_staff=False)
    assert reader.get(f"/api/movies/{godfather.pk}/").status_code == 200
    for response in (
        reader.post("/api/movies/", NEW_FILM, format="json"),
        reader.patch(f"/api/movies/{godfather.pk}/", {"title": "x"}, format="json"),
        reader.delete(f"/api/movies/{godfather.pk}/"),
    ):
        assert response.status_code == 403
        assert response.json() == {"detail": "Only staff users may change the catalog."}
    assert Movie.objects.filter(pk=godfather.pk, title="The Godfather").exists()


def test_a_staff_session_writes_too_for_the_browsable_api(godfather):
    client = APIClient()
    client.force_login(make_editor("session-editor"))
    response = client.patch(f"/api/movies/{godfather.pk}/", {"tagline": "An offer."}, format="json")
    assert response.status_code == 200
    assert Movie.objects.get(pk=godfather.pk).tagline == "An offer."


def test_the_browsable_api_gives_staff_edit_forms_with_the_films_relations(godfather):
    client = APIClient()
    client.force_login(make_editor("browser-editor"))
    for url in ("/api/movies/", f"/api/movies/{godfather.pk}/", f"/api/movies/{godfather.pk}/similar/"):
        assert client.get(url, HTTP_ACCEPT="text/html").status_code == 200, url
    form = client.get(f"/api/movies/{godfather.pk}/", HTTP_ACCEPT="text/html").content.decode()
    assert "Francis Ford Coppola" in form and "&quot;cast&quot;" in form


def test_put_is_not_offered(staff, godfather):
    assert staff.put(f"/api/movies/{godfather.pk}/", {"title": "x"}, format="json").status_code == 405


# -- create ----------------------------------------------------------------------------------------


def test_staff_create_a_film_with_relations_by_name(staff):
    genres_before = Genre.objects.count()
    response = staff.post("/api/movies/", NEW_FILM, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    movie = Movie.objects.get(pk=body["id"])
    assert response["Location"] == f"http://testserver/api/movies/{movie.pk}/"
    assert body["title"] == NEW_FILM["title"] and body["year"] == 2031
    # Existing genres are matched regardless of case and punctuation (by slug); nothing new was made for them.
    assert sorted(body["genres"]) == ["Drama", "Science Fiction"]
    assert Genre.objects.count() == genres_before
    assert sorted(body["keywords"]) == ["Winter Storm", "lighthouse"]
    assert Keyword.objects.filter(name="Winter Storm").exists()
    assert body["directors"] == ["Agnes Quillfeather"]
    assert body["cast"] == ["Marlon Brando", "Brunhilde Okonkwo-Lindqvist"]
    assert Person.objects.filter(name="Marlon Brando").count() == 1  # the existing person, not a copy
    assert body["vector_status"] == "missing"
    assert body["hidden"] is False
    assert movie.source == "api"
    assert "Quillfeather" in movie.people_text and "lighthouse" in movie.tags_text


def test_a_created_film_is_found_by_keyword_search_at_once(staff, api):
    staff.post("/api/movies/", NEW_FILM, format="json")
    by_person = api.get("/api/search/", {"q": "Okonkwo-Lindqvist", "mode": "keyword"}).json()
    assert by_person["results"][0]["title"] == NEW_FILM["title"]
    by_keyword = api.get("/api/search/", {"q": "lighthouse", "mode": "keyword"}).json()
    assert NEW_FILM["title"] in [movie["title"] for movie in by_keyword["results"]]
    assert api.get("/api/movies/", {"tmdb_id": NEW_FILM["tmdb_id"]}).json()["count"] == 1


def test_a_title_alone_makes_a_film(staff):
    response = staff.post("/api/movies/", {"title": "  Untitled Project  "}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "Untitled Project"
    assert body["genres"] == [] and body["cast"] == [] and body["imdb_id"] is None


def test_empty_external_ids_are_no_ids_so_several_films_may_lack_one(staff):
    for title in ("First", "Second"):
        response = staff.post("/api/movies/", {"title": title, "imdb_id": ""}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["imdb_id"] is None


# -- update ----------------------------------------------------------------------------------------


def test_staff_patch_refreshes_search_text_and_updated_at_and_says_the_vector_is_stale(staff, godfather):
    before = godfather.updated_at
    response = staff.patch(
        f"/api/movies/{godfather.pk}/", {"cast": ["Al Pacino", "Zebulon Featherstonehaugh"]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["cast"] == ["Al Pacino", "Zebulon Featherstonehaugh"]
    assert body["directors"] == ["Francis Ford Coppola"]  # lists not given are left alone
    assert body["vector_status"] == "stale"
    godfather.refresh_from_db()
    assert godfather.updated_at > before
    assert "Featherstonehaugh" in godfather.people_text and "Brando" not in godfather.people_text
    found = APIClient().get("/api/search/", {"q": "Featherstonehaugh", "mode": "keyword"}).json()
    assert found["results"][0]["id"] == godfather.pk


def test_a_patch_that_leaves_the_embedded_text_alone_keeps_the_vector_fresh(staff, godfather):
    before = godfather.updated_at
    response = staff.patch(f"/api/movies/{godfather.pk}/", {"featured": True, "popularity": 99.5}, format="json")
    assert response.status_code == 200
    assert response.json()["vector_status"] == "fresh"
    godfather.refresh_from_db()
    assert godfather.featured and godfather.popularity == 99.5
    assert godfather.updated_at > before  # caches watching the table see even this change


def test_relations_alone_still_move_updated_at(staff, godfather):
    before = godfather.updated_at
    assert staff.patch(f"/api/movies/{godfather.pk}/", {"genres": ["Drama"]}, format="json").status_code == 200
    godfather.refresh_from_db()
    assert [genre.name for genre in godfather.genres.all()] == ["Drama"]
    assert godfather.updated_at > before


def test_kept_cast_keep_their_character_and_take_the_new_order(staff, godfather):
    Credit.objects.filter(movie=godfather, person__name="Al Pacino").update(character="Michael Corleone")
    staff.patch(f"/api/movies/{godfather.pk}/", {"cast": ["Al Pacino", "Marlon Brando"]}, format="json")
    credits = list(godfather.credits.filter(role="cast").select_related("person").order_by("order"))
    assert [(c.person.name, c.order, c.character) for c in credits] == [
        ("Al Pacino", 0, "Michael Corleone"),
        ("Marlon Brando", 1, credits[1].character),
    ]


def test_a_film_may_keep_its_own_external_ids(staff, godfather):
    response = staff.patch(f"/api/movies/{godfather.pk}/", {"tmdb_id": 238, "imdb_id": "tt0068646"}, format="json")
    assert response.status_code == 200


def test_staff_can_unhide_a_hidden_film(staff, api, godfather):
    godfather.hidden = True
    godfather.save()
    assert api.get(f"/api/movies/{godfather.pk}/").status_code == 404
    response = staff.patch(f"/api/movies/{godfather.pk}/", {"hidden": False}, format="json")
    assert response.status_code == 200 and response.json()["hidden"] is False
    assert api.get(f"/api/movies/{godfather.pk}/").status_code == 200


# -- delete ----------------------------------------------------------------------------------------


def test_staff_delete_a_film(staff, api, godfather):
    assert staff.delete(f"/api/movies/{godfather.pk}/").status_code == 204
    assert not Movie.objects.filter(pk=godfather.pk).exists()
    assert not Credit.objects.filter(movie_id=godfather.pk).exists()
    assert api.get(f"/api/movies/{godfather.pk}/").status_code == 404
    assert staff.delete(f"/api/movies/{godfather.pk}/").status_code == 404


@pytest.mark.parametrize("film_id", ["999999999", "abc", "0", "-1", "1.5", "99999999999999999999999", "%00"])
def test_writes_to_unknown_films_are_404(staff, film_id):
    assert staff.patch(f"/api/movies/{film_id}/", {"title": "x"}, format="json").status_code == 404
    assert staff.delete(f"/api/movies/{film_id}/").status_code == 404


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"year": 1999}, "title", "This field is required."),
        ({"title": "   "}, "title", "This field may not be blank."),
        ({"title": "x" * 501}, "title", "Ensure this field has no more than 500 characters."),
        ({"title": "bad\x00byte"}, "title", "Null characters are not allowed."),
        ({"title": "x", "year": 1500}, "year", "Ensure this value is greater than or equal to 1800."),
        ({"title": "x", "year": "soon"}, "year", "A valid integer is required."),
        ({"title": "x", "tmdb_id": 238}, "tmdb_id", "movie with this TMDB id already exists."),
        ({"title": "x", "tmdb_id": 2**40}, "tmdb_id", "Ensure this value is less than or equal to 2147483647."),
        ({"title": "x", "imdb_id": "tt0068646"}, "imdb_id", "Another film has this IMDb id."),
        (
            {"title": "x", "imdb_id": "0068646"},
            "imdb_id",
            "An IMDb id is tt followed by at least seven digits, e.g. tt0068646.",
        ),
        ({"title": "x", "vote_average": 11}, "vote_average", "Ensure this value is less than or equal to 10."),
        ({"title": "x", "vote_average": "nan"}, "vote_average", "A valid number is required."),
        ({"title": "x", "release_date": "1972-13-40"}, "release_date", None),
        ({"title": "x", "poster_url": "not a url"}, "poster_url", "Enter a valid URL."),
        ({"title": "x", "genres": "Drama"}, "genres", 'Expected a list of items but got type "str".'),
        ({"title": "x", "genres": ["Drama"] * 21}, "genres", "Ensure this field has no more than 20 elements."),
        ({"title": "x", "cast": ["Al Pacino", "al pacino"]}, "cast", "'al pacino' is listed twice."),
        ({"title": "x", "directors": ["x" * 301]}, "directors", None),
        ({"title": "x", "countries": ["UNITEDSTATES"]}, "countries", None),
    ],
)
def test_invalid_films_are_clear_400s(staff, body, field, message):
    films = Movie.objects.count()
    response = staff.post("/api/movies/", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert field in errors, errors
    if message:
        assert message in str(errors[field])
    assert Movie.objects.count() == films


def test_a_patch_is_validated_like_a_post(staff, godfather):
    response = staff.patch(f"/api/movies/{godfather.pk}/", {"title": "", "year": 3000}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"title", "year"}
    assert Movie.objects.get(pk=godfather.pk).title == "The Godfather"


def test_unreadable_or_non_json_bodies_are_refused(staff):
    broken = staff.post("/api/movies/", data="{not json", content_type="application/json")
    assert broken.status_code == 400 and "JSON parse error" in broken.json()["detail"]
    form = staff.post("/api/movies/", {"title": "x"})  # multipart, as a browser form would send it
    assert form.status_code == 415


# -- tokens ----------------------------------------------------------------------------------------


def test_create_api_token_prints_the_same_token_until_reset():
    User.objects.create_user("integrator", is_staff=True)
    out = io.StringIO()
    call_command("create_api_token", "integrator", stdout=out)
    key = out.getvalue().strip()
    assert key == Token.objects.get(user__username="integrator").key

    again = io.StringIO()
    call_command("create_api_token", "integrator", stdout=again)
    assert again.getvalue().strip() == key

    reset = io.StringIO()
    call_command("create_api_token", "integrator", "--reset", stdout=reset)
    assert reset.getvalue().strip() not in {"", key}
    assert Token.objects.filter(user__username="integrator").count() == 1


def test_create_api_token_can_make_the_user_staff_and_the_token_then_writes(godfather):
    User.objects.create_user("newcomer")
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "newcomer", stdout=out, stderr=err)
    assert "not staff" in err.getvalue()

    call_command("create_api_token", "newcomer", "--staff", stdout=(out := io.StringIO()))
    assert User.objects.get(username="newcomer").is_staff
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    assert client.patch(f"/api/movies/{godfather.pk}/", {"featured": True}, format="json").status_code == 200


def test_create_api_token_names_an_unknown_user():
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost", stdout=io.StringIO())


def test_tokens_are_managed_in_the_admin():
    admin = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client = APIClient()
    client.force_login(admin)
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 200
    assert client.get("/admin/authtoken/tokenproxy/add/").status_code == 200
