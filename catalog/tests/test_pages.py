from __future__ import annotations

import pytest

from catalog.models import Movie
from catalog.tests.helpers import make_movie

pytestmark = pytest.mark.django_db


def test_the_home_page_browses_featured_films(client):
    response = client.get("/")
    assert response.status_code == 200
    assert 'role="search"' in response.text
    featured = Movie.objects.filter(featured=True).order_by("-vote_average").first()
    assert featured.title in response.text
    assert "Featured and popular films" in response.text


def test_a_search_shows_results_with_links_to_film_pages(client):
    response = client.get("/", {"q": "godfather", "mode": "hybrid"})
    assert response.status_code == 200
    godfather = Movie.objects.get(title="The Godfather")
    assert response.text.index(f'href="/movies/{godfather.pk}/"') < response.text.index("Godfather Part II")


def test_filters_and_pagination_links_keep_the_query(client):
    response = client.get("/", {"q": "", "genre": ["drama"], "year_min": 1990})
    assert response.status_code == 200
    assert "genre=drama" in response.text and "page=2" in response.text
    assert client.get("/", {"genre": ["drama"], "page": 2}).status_code == 200


def test_invalid_search_input_is_a_400_page_with_the_reason(client):
    response = client.get("/", {"year_min": "soon", "q": "x"})
    assert response.status_code == 400
    assert "Enter a whole number." in response.text
    assert client.get("/", {"q": "nul\x00byte"}).status_code == 400


def test_the_film_page_shows_facts_and_forty_similar_films(client):
    movie = Movie.objects.get(title="The Godfather")
    response = client.get(f"/movies/{movie.pk}/")
    assert response.status_code == 200
    assert "Francis Ford Coppola" in response.text and "Marlon Brando" in response.text
    assert "40 films like The Godfather" in response.text
    assert response.text.count('class="card"') == 40


def test_unknown_and_hidden_films_are_404(client):
    movie = Movie.objects.get(title="Jaws")
    movie.hidden = True
    movie.save()
    assert client.get(f"/movies/{movie.pk}/").status_code == 404
    assert client.get("/movies/999999999/").status_code == 404


def test_titles_are_escaped(client):
    movie = make_movie(title="<script>alert(1)</script>", overview="<b>bold</b>", year=2001)
    response = client.get(f"/movies/{movie.pk}/")
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in response.text


def test_a_poster_url_is_shown_over_the_placeholder(client):
    movie = make_movie(title="Poster Test", poster_url="https://example.com/p.jpg")
    response = client.get(f"/movies/{movie.pk}/")
    assert 'class="poster-img" src="https://example.com/p.jpg"' in response.text
    assert 'class="poster-placeholder"' in response.text


def test_healthz_reports_the_database_extensions_and_backend(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "extensions": "ok", "embedding_backend": "ok: all-MiniLM-L6-v2"},
    }
