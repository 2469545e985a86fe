from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from catalog.models import Credit, Genre, Movie
from catalog.tests.helpers import ids

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("curator", "curator@example.com", "a-long-password-1")
    client.force_login(user)
    return client


def change_form_data(movie: Movie, **overrides) -> dict:
    """What the change form posts back for `movie` unchanged, then `overrides`."""
    credits = list(movie.credits.order_by("role", "order"))
    data = {
        "title": movie.title, "original_title": movie.original_title, "year": movie.year or "",
        "release_date": movie.release_date or "", "hidden": "", "featured": "on" if movie.featured else "",
        "overview": movie.overview, "tagline": movie.tagline, "plot": movie.plot,
        "genres": [g.pk for g in movie.genres.all()], "keywords": [k.pk for k in movie.keywords.all()],
        "runtime": movie.runtime or "", "original_language": movie.original_language,
        "countries": ",".join(movie.countries), "poster_url": movie.poster_url,
        "vote_average": movie.vote_average or "", "vote_count": movie.vote_count or "", "popularity": "",
        "imdb_id": movie.imdb_id or "", "tmdb_id": movie.tmdb_id or "", "movielens_id": "",
        "credits-TOTAL_FORMS": len(credits), "credits-INITIAL_FORMS": len(credits),
        "credits-MIN_NUM_FORMS": 0, "credits-MAX_NUM_FORMS": 1000,
    }  # fmt: skip
    for index, credit in enumerate(credits):
        prefix = f"credits-{index}-"
        data |= {
            f"{prefix}id": credit.pk, f"{prefix}movie": movie.pk, f"{prefix}person": credit.person_id,
            f"{prefix}role": credit.role, f"{prefix}order": credit.order, f"{prefix}character": credit.character,
        }  # fmt: skip
    return data | overrides


def test_the_change_list_searches_titles_and_people(staff_client):
    response = staff_client.get("/admin/catalog/movie/", {"q": "Coppola"})
    assert response.status_code == 200
    assert "The Godfather" in response.text
    assert "Jaws" not in response.text


def test_the_change_list_filters(staff_client):
    drama = Genre.objects.get(name="Drama")
    for params in (
        {"hidden__exact": "1"},
        {"embedding": "no"},
        {"genres__id__exact": drama.pk},
        {"featured__exact": "1"},
    ):
        assert staff_client.get("/admin/catalog/movie/", params).status_code == 200


def test_the_change_form_opens_with_the_vector_status_read_only(staff_client):
    movie = Movie.objects.get(title="Jaws")
    response = staff_client.get(f"/admin/catalog/movie/{movie.pk}/change/")
    assert response.status_code == 200
    assert "all-MiniLM-L6-v2, 384 dimensions, fresh" in response.text
    assert 'name="embedding"' not in response.text


def test_saving_a_film_keeps_its_vector_and_refreshes_search_text(staff_client):
    movie = Movie.objects.get(title="Jaws")
    vector_before = list(movie.embedding)
    data = change_form_data(movie, title="Jaws (restored)", overview=movie.overview + " Newly restored.")
    response = staff_client.post(f"/admin/catalog/movie/{movie.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    movie.refresh_from_db()
    assert movie.title == "Jaws (restored)"
    assert list(movie.embedding) == pytest.approx(vector_before)
    page = staff_client.get(f"/admin/catalog/movie/{movie.pk}/change/")
    assert "stale" in page.text


def test_adding_a_cast_member_in_the_inline_makes_the_film_findable_by_name(staff_client):
    movie = Movie.objects.get(title="Jaws")
    data = change_form_data(movie)
    index = data["credits-TOTAL_FORMS"]
    from catalog.models import Person

    person = Person.objects.create(name="Zebulon Quartermaine")
    data |= {
        "credits-TOTAL_FORMS": index + 1,
        f"credits-{index}-movie": movie.pk,
        f"credits-{index}-person": person.pk,
        f"credits-{index}-role": Credit.Role.CAST,
        f"credits-{index}-order": 9,
    }
    assert staff_client.post(f"/admin/catalog/movie/{movie.pk}/change/", data).status_code == 302
    assert ids(Movie.objects.keyword_scores("quartermaine", limit=5)) == [movie.pk]


def test_hide_and_feature_actions(staff_client):
    movie = Movie.objects.get(title="Jaws")
    for action, field, value in (("hide", "hidden", True), ("unhide", "hidden", False), ("feature", "featured", True)):
        response = staff_client.post("/admin/catalog/movie/", {"action": action, "_selected_action": [movie.pk]})
        assert response.status_code == 302
        movie.refresh_from_db()
        assert getattr(movie, field) is value


def test_people_and_tags_have_searchable_admins_for_autocomplete(staff_client):
    response = staff_client.get(
        "/admin/autocomplete/", {"app_label": "catalog", "model_name": "movie", "field_name": "genres", "term": "dra"}
    )
    assert response.status_code == 200
    assert [item["text"] for item in response.json()["results"]] == ["Drama"]
