"""Whole API answers kept by catalog version (issue 16): a repeat is one statement, any change of the films or
the co-liked lists is seen at once, and answers to a signed-in user are never kept."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle

from catalog.api import answers
from catalog.models import Movie
from moviesite.models import CachedAnswer
from recommender import cf

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def web_server_connections(settings, monkeypatch):
    """Count statements as a web server runs them: its connections start with the statement limit, so no
    SET LOCAL is added around each one (moviesite.middleware). No store sweeps old answers by chance."""
    settings.CONNECTION_STATEMENT_TIMEOUT_MS = settings.REQUEST_STATEMENT_TIMEOUT_MS
    monkeypatch.setattr(answers, "SWEEP_EVERY", 10**9)


def film(title: str) -> Movie:
    return Movie.objects.get(title=title)


def get(path: str, client: APIClient | None = None, **params) -> tuple[int, bytes, list[str]]:
    """(status, body, the statements it ran)."""
    with CaptureQueriesContext(connection) as queries:
        response = (client or APIClient()).get(path, params, HTTP_ACCEPT="application/json")
    return response.status_code, response.content, [query["sql"] for query in queries.captured_queries]


def test_a_repeated_film_detail_is_the_throttle_count_and_one_statement():
    path = f"/api/movies/{film('Heat').pk}/"
    status, first, computed = get(path)
    again_status, again, repeated = get(path)

    assert status == again_status == 200 and again == first
    assert len(computed) == 4  # count, look-up, the film with its genres, credits and keywords, the keeping
    assert len(repeated) == 2  # count, look-up
    assert "moviesite_throttlecount" in repeated[0] and "moviesite_cachedanswer" in repeated[1]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/movies/{heat}/similar/", {}),
        ("/api/movies/{heat}/similar/", {"method": "knn", "limit": 5}),
        ("/api/movies/{heat}/similar/", {"method": "svm", "C": 0.5, "prior": 0.2}),
        ("/api/search/", {"q": "bank robbery crew", "mode": "hybrid"}),
        ("/api/search/", {"q": "", "genre": ["Crime", "Drama"], "ordering": "rating"}),
    ],
)
def test_every_method_setting_and_search_is_kept_and_a_repeat_is_one_statement(path, params):
    path = path.format(heat=film("Heat").pk)
    _, first, _ = get(path, **params)
    status, again, repeated = get(path, **params)

    assert status == 200 and again == first
    assert len(repeated) == 2


def test_parameters_in_another_order_or_spelling_share_one_answer():
    heat = film("Heat").pk
    _, first, _ = get(f"/api/movies/{heat}/similar/?limit=5&method=knn")
    _, again, repeated = get(f"/api/movies/{heat}/similar/?method=knn&limit=05&unknown=1")

    assert again == first and len(repeated) == 2


def test_an_edited_film_is_answered_afresh_at_once():
    heat = film("Heat")
    get(f"/api/movies/{heat.pk}/")
    Movie.objects.filter(pk=heat.pk).update(tagline="A new tagline")  # the trigger bumps the catalog version

    _, body, statements = get(f"/api/movies/{heat.pk}/")

    assert b"A new tagline" in body and len(statements) > 2


def test_a_hidden_film_is_gone_from_its_answers_and_from_other_films_similar_lists():
    heat = film("Heat")
    similar = f"/api/movies/{heat.pk}/similar/"
    neighbour = json.loads(get(similar, method="knn")[1])["results"][0]["id"]
    get(f"/api/movies/{neighbour}/")  # kept too
    Movie.objects.filter(pk=neighbour).update(hidden=True)

    assert get(f"/api/movies/{neighbour}/")[0] == 404
    assert neighbour not in [result["id"] for result in json.loads(get(similar, method="knn")[1])["results"]]
    Movie.objects.filter(pk=heat.pk).update(hidden=True)
    assert get(similar, method="knn")[0] == 404


def test_a_refit_of_the_co_liked_lists_is_answered_afresh():
    path = f"/api/movies/{film('Heat').pk}/similar/"
    get(path)
    cf.refresh()  # rewrites the co-liked lists: their trigger bumps the catalog version

    status, _, statements = get(path)

    assert status == 200 and len(statements) > 2


def test_a_signed_in_user_is_never_served_a_kept_answer_nor_has_one_kept():
    path = f"/api/movies/{film('Heat').pk}/similar/"
    get(path)  # an anonymous answer, kept
    user = get_user_model().objects.create_user("viewer")
    by_token = APIClient()
    by_token.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    by_session = APIClient()
    by_session.force_login(user)
    kept = CachedAnswer.objects.count()

    for client in (by_token, by_session, by_token):
        status, _, statements = get(path, client)
        assert status == 200
        assert not any("moviesite_cachedanswer" in sql for sql in statements)
    assert CachedAnswer.objects.count() == kept


def test_the_browsable_api_and_indented_json_are_not_kept():
    path = f"/api/movies/{film('Heat').pk}/"
    for accept in ("text/html", "application/json; indent=4"):
        with CaptureQueriesContext(connection) as queries:
            assert APIClient().get(path, HTTP_ACCEPT=accept).status_code == 200
        assert not any("moviesite_cachedanswer" in query["sql"] for query in queries.captured_queries)
    assert CachedAnswer.objects.count() == 0


def test_kept_answers_still_count_against_the_throttle(monkeypatch, frozen_throttle_clock):
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute"})
    path = f"/api/movies/{film('Heat').pk}/"

    assert [get(path)[0] for _ in range(5)] == [200, 200, 200, 429, 429]


def test_errors_are_not_kept():
    assert get("/api/movies/999999999/")[0] == 404
    assert get("/api/movies/1/similar/", limit=0)[0] == 400
    assert CachedAnswer.objects.count() == 0


def test_a_deploys_migrate_forgets_every_kept_answer():
    get(f"/api/movies/{film('Heat').pk}/")
    assert CachedAnswer.objects.count() == 1

    call_command("migrate", verbosity=0, stdout=io.StringIO())

    assert CachedAnswer.objects.count() == 0


def test_kept_answers_are_not_logged_tables():
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'moviesite_cachedanswer'")
        assert cursor.fetchone()[0] == "u"


def test_keep_answers_keeps_each_films_default_similar_answer_as_the_api_gives_it():
    heat = film("Heat")
    fresh = get(f"/api/movies/{heat.pk}/similar/")[1]
    CachedAnswer.objects.all().delete()
    out = io.StringIO()

    call_command("keep_answers", "--films", "5", stdout=out, stderr=io.StringIO())
    call_command("keep_answers", "--films", "5", stdout=out, stderr=io.StringIO())

    assert "5 similar-films answers computed, 0 were already kept." in out.getvalue()
    assert "0 similar-films answers computed, 5 were already kept." in out.getvalue()
    popular = Movie.objects.visible().ordered().first()
    status, body, statements = get(f"/api/movies/{popular.pk}/similar/")
    assert status == 200 and len(statements) == 2
    if popular.pk == heat.pk:
        assert body == fresh
    CachedAnswer.objects.all().delete()
    assert get(f"/api/movies/{popular.pk}/similar/")[1] == body  # the API computes the same bytes


def test_a_sweep_forgets_answers_of_older_versions_and_the_oldest_beyond_the_cap(monkeypatch):
    monkeypatch.setattr(answers, "SWEEP_EVERY", 1)
    monkeypatch.setattr(answers, "MAX_ANSWERS", 2)
    heat, alien = film("Heat").pk, film("Alien").pk
    get(f"/api/movies/{heat}/")
    Movie.objects.filter(pk=heat).update(tagline="Changed")  # a new catalog version
    for n in range(3):
        get(f"/api/movies/{alien}/similar/", limit=n + 1)

    assert CachedAnswer.objects.count() == 2


def test_a_similar_answer_not_kept_yet_of_a_film_whose_list_is_kept_costs_a_pinned_number_of_statements():
    heat = film("Heat").pk
    get(f"/api/movies/{heat}/similar/")  # computes and keeps the list, and the answer
    _, _, statements = get(f"/api/movies/{heat}/similar/", limit=10)  # another answer, the same kept list

    # count, look-up, the film with its names (1), catalog version and kept list (1), the similar films with
    # their shared keywords, genres and credits (1), the co-liked list, the keeping
    assert len(statements) == 7, "\n".join(sql[:120] for sql in statements)


def test_a_person_or_genre_renamed_in_the_admin_is_shown_afresh_in_kept_answers(client):
    from django.contrib.auth import get_user_model

    from catalog.models import Person

    movie = Movie.objects.with_details().filter(credits__isnull=False, genres__isnull=False).first()
    person = Person.objects.filter(credits__movie=movie).first()
    genre = movie.genres.first()
    get(f"/api/movies/{movie.pk}/")  # kept
    get_user_model().objects.create_superuser("curator", "curator@example.com", "a-long-password-1")
    client.login(username="curator", password="a-long-password-1")
    response = client.post(f"/admin/catalog/person/{person.pk}/change/", {"name": "Renamed Person"})
    assert response.status_code == 302
    data = {"name": "Renamed Genre", "slug": genre.slug}
    assert client.post(f"/admin/catalog/genre/{genre.pk}/change/", data).status_code == 302

    status, body, _ = get(f"/api/movies/{movie.pk}/")
    assert status == 200
    assert b"Renamed Person" in body and b"Renamed Genre" in body
    assert Movie.objects.filter(pk=movie.pk, people_text__icontains="Renamed Person").exists()
