"""Accounts on the site: sign up, log in with favourites carried in, rate, watchlist, the ratings page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Movie, Rating, WatchlistEntry
from catalog.ratings import FAVOURITE_STARS

pytestmark = pytest.mark.django_db
PASSWORD = "a long enough passphrase 42"


def film(title: str) -> Movie:
    return Movie.objects.get(title=title)


def make_user(username: str = "viewer"):
    return get_user_model().objects.create_user(username, password=PASSWORD)


def test_the_signup_page_has_labelled_fields(client):
    page = client.get("/accounts/signup/").content.decode()
    assert '<label for="id_username">' in page
    assert '<label for="id_password1">' in page


def test_signing_up_logs_the_user_in_and_carries_favourites_as_four_stars(client):
    jaws = film("Jaws")
    client.post(f"/movies/{jaws.pk}/favourite/")
    response = client.post("/accounts/signup/", {"username": "newfan", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newfan")
    assert client.session["_auth_user_id"] == str(user.pk)
    rating = Rating.objects.get(user=user)
    assert (rating.movie, rating.stars, rating.source) == (jaws, FAVOURITE_STARS, Rating.Source.FAVOURITE)
    assert "favourites" not in client.session


def test_a_bad_signup_shows_the_errors_with_a_400(client):
    response = client.post("/accounts/signup/", {"username": "x", "password1": "short", "password2": "other"})
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


def test_logging_in_keeps_an_existing_rating_over_a_favourite(client):
    user = make_user()
    jaws, alien = film("Jaws"), film("Alien")
    Rating.objects.create(user=user, movie=jaws, stars=Decimal("2.0"))
    client.post(f"/movies/{jaws.pk}/favourite/")
    client.post(f"/movies/{alien.pk}/favourite/")
    response = client.post("/accounts/login/", {"username": "viewer", "password": PASSWORD})
    assert response.status_code == 302
    stars = dict(Rating.objects.filter(user=user).values_list("movie__title", "stars"))
    assert stars == {"Jaws": Decimal("2.0"), "Alien": FAVOURITE_STARS}


def test_logging_out_takes_a_post(client):
    client.force_login(make_user())
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_rating_needs_an_account(client):
    response = client.post(f"/movies/{film('Jaws').pk}/rate/", {"stars": "4"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_rates_changes_and_removes_a_rating_with_plain_forms(client):
    user = make_user()
    client.force_login(user)
    jaws = film("Jaws")
    assert client.post(f"/movies/{jaws.pk}/rate/", {"stars": "3.5"}).status_code == 302
    assert Rating.objects.get(user=user, movie=jaws).stars == Decimal("3.5")
    client.post(f"/movies/{jaws.pk}/rate/", {"stars": "5"})
    assert Rating.objects.get(user=user, movie=jaws).stars == Decimal("5")
    client.post(f"/movies/{jaws.pk}/rate/", {"stars": ""})
    assert not Rating.objects.filter(user=user).exists()


@pytest.mark.parametrize("stars", ["0", "5.5", "3.25", "four", "nan"])
def test_stars_outside_half_steps_from_half_to_five_are_refused(client, stars):
    user = make_user()
    client.force_login(user)
    response = client.post(f"/movies/{film('Jaws').pk}/rate/", {"stars": stars}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert not Rating.objects.filter(user=user).exists()


def test_a_hidden_film_cannot_be_rated(client):
    client.force_login(make_user())
    jaws = film("Jaws")
    Movie.objects.filter(pk=jaws.pk).update(hidden=True)
    assert client.post(f"/movies/{jaws.pk}/rate/", {"stars": "4"}).status_code == 404


def test_the_watchlist_toggles_and_rating_a_film_takes_it_off(client):
    user = make_user()
    client.force_login(user)
    jaws = film("Jaws")
    client.post(f"/movies/{jaws.pk}/watchlist/")
    assert WatchlistEntry.objects.filter(user=user, movie=jaws).exists()
    client.post(f"/movies/{jaws.pk}/rate/", {"stars": "4"})
    assert not WatchlistEntry.objects.filter(user=user, movie=jaws).exists()
    client.post(f"/movies/{jaws.pk}/watchlist/")
    client.post(f"/movies/{jaws.pk}/watchlist/")
    assert not WatchlistEntry.objects.filter(user=user).exists()


def test_the_film_page_shows_the_users_rating_selected(client):
    user = make_user()
    client.force_login(user)
    jaws = film("Jaws")
    Rating.objects.create(user=user, movie=jaws, stars=Decimal("4.5"))
    page = client.get(f"/movies/{jaws.pk}/").content.decode()
    assert '<option value="4.5" selected>4½ stars</option>' in page
    assert '<label for="stars-' in page


def test_the_ratings_page_lists_only_the_users_own_ratings(client):
    user, other = make_user(), make_user("other")
    Rating.objects.create(user=user, movie=film("Jaws"), stars=Decimal("4"))
    Rating.objects.create(user=other, movie=film("Alien"), stars=Decimal("1"))
    client.force_login(user)
    page = client.get("/me/ratings/").content.decode()
    assert "Jaws" in page
    assert "Alien (" not in page


def test_the_ratings_page_needs_an_account(client):
    assert client.get("/me/ratings/").status_code == 302


def test_the_admin_shows_ratings_read_only(client):
    admin = get_user_model().objects.create_superuser("boss", password=PASSWORD)
    rating = Rating.objects.create(user=make_user(), movie=film("Jaws"), stars=Decimal("4"))
    client.force_login(admin)
    assert client.get("/admin/catalog/rating/").status_code == 200
    page = client.get(f"/admin/catalog/rating/{rating.pk}/change/").content.decode()
    assert 'name="stars"' not in page
    assert client.get("/admin/catalog/rating/add/").status_code == 403
    assert client.post(f"/admin/catalog/rating/{rating.pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_signed_in_user_without_ratings_gets_popular_and_recent_films(client):
    client.force_login(make_user())
    page = client.get("/").content.decode()
    assert "Popular and recent" in page


def test_a_signed_in_user_with_ratings_gets_because_you_liked_rows_without_rated_films(client):
    user = make_user()
    client.force_login(user)
    rated = [film("The Godfather"), film("Jaws"), film("Alien")]
    for movie in rated:
        Rating.objects.create(user=user, movie=movie, stars=Decimal("5"))
    response = client.get("/")
    rows = response.context["personal_rows"]
    assert rows
    assert "Because you liked" in response.content.decode()
    shown = {movie.pk for row in rows for movie in row.films}
    assert shown and not shown & {movie.pk for movie in rated}
