"""A visitor's favourites: kept in the session, toggled by a plain POST form, and the recommendations they make."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from catalog.models import Movie
from catalog.views import FAVOURITES_KEY, MAX_FAVOURITES

pytestmark = pytest.mark.django_db


def film(title: str) -> Movie:
    return Movie.objects.get(title=title)


def favourite(client: Client, movie: Movie, **data) -> object:
    return client.post(f"/movies/{movie.pk}/favourite/", data)


def test_it_only_allows_post(client):
    assert client.get(f"/movies/{film('Jaws').pk}/favourite/").status_code == 405


def test_it_adds_the_film_to_the_session_and_goes_back_where_the_visitor_was(client):
    jaws = film("Jaws")
    response = favourite(client, jaws, next=f"/movies/{jaws.pk}/?method=svm")
    assert response.status_code == 302
    assert response["Location"] == f"/movies/{jaws.pk}/?method=svm"
    assert client.session[FAVOURITES_KEY] == [jaws.pk]


def test_a_second_toggle_removes_it(client):
    jaws = film("Jaws")
    favourite(client, jaws)
    favourite(client, jaws)
    assert client.session[FAVOURITES_KEY] == []


def test_without_a_next_page_it_goes_back_to_the_film(client):
    jaws = film("Jaws")
    assert favourite(client, jaws)["Location"] == f"/movies/{jaws.pk}/"


def test_it_never_sends_the_visitor_to_another_site(client):
    jaws = film("Jaws")
    for next_url in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        assert favourite(client, jaws, next=next_url)["Location"] == f"/movies/{jaws.pk}/"


def test_it_keeps_the_latest_fifty(client):
    ids = list(Movie.objects.order_by("pk").values_list("pk", flat=True)[: MAX_FAVOURITES + 1])
    session = client.session
    session[FAVOURITES_KEY] = ids[:MAX_FAVOURITES]
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key  # sessions are signed cookies
    newest = Movie.objects.get(pk=ids[MAX_FAVOURITES])

    favourite(client, newest)

    assert client.session[FAVOURITES_KEY] == ids[1:]


def test_a_script_asking_for_json_gets_the_new_state(client):
    jaws = film("Jaws")
    response = client.post(f"/movies/{jaws.pk}/favourite/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {"favourite": True, "count": 1}
    response = client.post(f"/movies/{jaws.pk}/favourite/", HTTP_ACCEPT="application/json")
    assert response.json() == {"favourite": False, "count": 0}


def test_it_needs_the_csrf_token():
    client = Client(enforce_csrf_checks=True)
    assert client.post(f"/movies/{film('Jaws').pk}/favourite/").status_code == 403


def test_unknown_and_hidden_films_cannot_be_favourites(client):
    Movie.objects.filter(title="Jaws").update(hidden=True)
    assert favourite(client, film("Jaws")).status_code == 404
    assert client.post("/movies/999999999/favourite/").status_code == 404
    assert FAVOURITES_KEY not in client.session


def test_the_film_page_offers_to_add_or_remove_it(client):
    jaws = film("Jaws")
    response = client.get(f"/movies/{jaws.pk}/")
    assert f'action="/movies/{jaws.pk}/favourite/"' in response.text
    assert "csrfmiddlewaretoken" in response.text
    assert "Add to favourites" in response.text and "Remove from favourites</span>" not in response.text

    favourite(client, jaws)

    response = client.get(f"/movies/{jaws.pk}/")
    assert "Remove from favourites</span>" in response.text


def test_the_home_page_has_no_favourites_or_recommendations_before_any_favourite(client):
    response = client.get("/")
    assert "Your favourites" not in response.text
    assert "Recommended for you" not in response.text


def test_two_favourites_list_newest_first_and_bring_recommendations(client):
    godfather, goodfellas = film("The Godfather"), film("Goodfellas")
    favourite(client, godfather)
    favourite(client, goodfellas)

    response = client.get("/")

    assert [movie.pk for movie in response.context["favourites"]] == [goodfellas.pk, godfather.pk]
    recommended = response.context["recommended"]
    assert recommended and not {movie.pk for movie in recommended} & {godfather.pk, goodfellas.pk}
    html = response.text
    assert html.index("Your favourites") < html.index("Recommended for you") < html.index("Featured and popular")
    assert "Because you liked" in html
    assert f'Remove<span class="visually-hidden"> {goodfellas.title} from your favourites' in html


def test_favourites_rows_stay_off_search_results(client):
    favourite(client, film("Jaws"))
    response = client.get("/", {"q": "shark"})
    assert response.status_code == 200
    assert "Recommended for you" not in response.text


def test_removing_a_favourite_from_the_home_page_goes_back_home(client):
    jaws = film("Jaws")
    favourite(client, jaws)
    response = favourite(client, jaws, next="/")
    assert response["Location"] == "/"
    assert "Your favourites" not in client.get("/").text


def test_a_favourite_hidden_later_drops_out_of_the_lists(client):
    jaws, alien = film("Jaws"), film("Alien")
    favourite(client, jaws)
    favourite(client, alien)
    Movie.objects.filter(pk=jaws.pk).update(hidden=True)

    response = client.get("/")

    assert [movie.pk for movie in response.context["favourites"]] == [alien.pk]
    assert jaws.pk not in {movie.pk for movie in response.context["recommended"]}


def test_favourite_titles_are_escaped(client):
    from catalog.tests.helpers import make_movie

    movie = make_movie(title="<img src=x onerror=alert(1)>")
    favourite(client, movie)
    html = client.get("/").text
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
