"""Collaborative filtering on a small synthetic rating set over the demo catalog: the fit, method cf and its
`why`, the default blend, the cold-start fallback to content, and recommendations."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from catalog.models import ImportedRating, Movie
from recommender import cf, similar
from recommender.models import SimilarList

pytestmark = pytest.mark.django_db

CRIME = ["Heat", "The Godfather", "Goodfellas", "The Departed"]
FAMILY = ["Toy Story", "Finding Nemo"]


def film(title: str) -> Movie:
    return Movie.objects.with_details().get(title=title)


def titles(movies: list[Movie]) -> list[str]:
    return [movie.title for movie in movies]


def rate(user: int, title: str, stars: float, source: str = "test") -> ImportedRating:
    return ImportedRating(source=source, user=user, movie=Movie.objects.get(title=title), rating=stars)


@pytest.fixture
def ratings() -> cf.Fit:
    """Twelve crime fans who like the four crime films (four of them like Toy Story too: people are not
    tidy), ten family viewers who like the two Pixar films and find Heat lukewarm, and five people who liked
    Alien: too few for its own list."""
    rows = [rate(user, title, 5) for user in range(1, 13) for title in CRIME]
    rows += [rate(user, "Toy Story", 4) for user in range(1, 5)]
    rows += [rate(user, title, 4.5) for user in range(20, 30) for title in FAMILY]
    rows += [rate(user, "Heat", 3) for user in range(20, 30)]
    rows += [rate(user, "Alien", 5) for user in range(40, 45)]
    ImportedRating.objects.bulk_create(rows)
    return cf.refresh()


def test_neighbour_lists_score_shrunk_cosine_over_likes_and_count_co_likers():
    # Three users; films 0 and 1 both liked by users 0 and 1; film 2 liked by user 2 only, and rated
    # lukewarm (0.3) by user 0.
    likes = cf.like_matrix(
        np.array([0, 0, 1, 1, 2, 0]), np.array([10, 11, 10, 11, 12, 12]), np.array([1, 1, 1, 1, 1, 0.3])
    )[0]
    lists = cf.neighbour_lists(likes, min_likers=1, shrink=2.0)
    near, scores, shared = lists[0]
    assert near.tolist() == [1] and shared.tolist() == [2]
    assert scores[0] == pytest.approx(1.0 * 2 / (2 + 2), rel=1e-5)  # cosine 1, shrunk by 2 / (2 + 2)
    # Film 2's one liker likes nothing else: a lukewarm rating alone makes no co-liker.
    assert lists[2][0].tolist() == []
    assert set(cf.neighbour_lists(likes, min_likers=2)) == {0, 1}


def test_the_fit_keeps_a_co_liked_list_for_films_enough_people_like(ratings):
    assert ratings.films == 6 and ratings.users == 27
    heat = cf.co_liked(film("Heat").pk)
    assert heat.likers == 12
    named = {Movie.objects.get(pk=n.pk).title: n for n in heat.neighbours}
    assert set(list(named)[:3]) == {"The Godfather", "Goodfellas", "The Departed"}
    assert named["The Godfather"].co_likers == 12 and named["Toy Story"].co_likers == 4
    assert "Finding Nemo" not in named  # no one likes both
    assert cf.co_liked(film("Alien").pk) is None  # five likers: cold start


def test_cf_ranks_co_liked_films_first_and_says_how_many_liked_both(ratings):
    results = similar.similar_films(film("Heat"), method="cf", limit=40)
    assert set(titles(results)[:3]) == {"The Godfather", "Goodfellas", "The Departed"}
    assert titles(results)[3] == "Toy Story"
    assert results[0].why["liked_by"] == ["Liked by 12 of the 12 people who liked Heat"]
    assert "Crime" in results[0].why["genres"]


def test_films_too_few_people_like_fall_back_to_content(ratings):
    for method in ("cf", "blend"):
        fallback = similar.similar_films(film("Alien"), method=method, limit=40)
        assert titles(fallback) == titles(similar.similar_films(film("Alien"), method="knn", limit=40))
        assert not any("liked_by" in movie.why for movie in fallback)


def test_the_default_blends_co_likes_with_content(ratings):
    heat = film("Heat")
    blended = similar.similar_films(heat)  # the default method
    content = similar.similar_films(heat, method="knn")
    assert len(blended) == 40
    # The co-liked crime films lead; films only content finds fill the rest, genre-coherent.
    assert set(titles(blended)[:3]) == {"The Godfather", "Goodfellas", "The Departed"}
    assert len(set(titles(blended)) & set(titles(content))) >= 20
    # Four co-likers but no genre in common with Heat: 4th by cf, below films of Heat's genres in the blend.
    people = titles(similar.similar_films(heat, method="cf"))
    assert people.index("Toy Story") == 3 < titles(blended).index("Toy Story")


def test_the_api_and_the_page_offer_cf_with_its_why(client, ratings):
    heat = film("Heat")
    response = client.get(f"/api/movies/{heat.pk}/similar/", {"method": "cf", "limit": 5})
    assert response.status_code == 200
    assert response.json()["results"][0]["why"]["liked_by"] == ["Liked by 12 of the 12 people who liked Heat"]
    page = client.get(f"/movies/{heat.pk}/", {"method": "cf"}).content.decode()
    assert "Liked by 12 of the 12 people who liked Heat" in page


def test_recommendations_use_the_co_liked_films_of_the_liked_ones(client, ratings):
    response = client.post(
        "/api/recommendations/", {"liked": [film("Toy Story").pk], "limit": 10}, content_type="application/json"
    )
    assert "Finding Nemo" in [result["title"] for result in response.json()["results"]][:3]


def test_fit_cf_refits_for_an_operator(ratings):
    ImportedRating.objects.filter(movie__title="Alien").delete()
    ImportedRating.objects.bulk_create([rate(user, "Alien", 5) for user in range(40, 55)])
    out = io.StringIO()
    call_command("fit_cf", stdout=out, stderr=io.StringIO())
    assert "7 films with co-liked lists" in out.getvalue()
    assert cf.co_liked(film("Alien").pk).likers == 15


def test_a_hidden_film_never_appears_among_the_co_liked(ratings):
    Movie.objects.filter(title="The Godfather").update(hidden=True)
    for method in ("cf", "blend"):
        assert "The Godfather" not in titles(similar.similar_films(film("Heat"), method=method))


def test_a_films_default_list_is_kept_and_read_back_without_computing_again(ratings, monkeypatch):
    heat = film("Heat")
    first = {method: titles(similar.similar_films(heat, method=method)) for method in ("blend", "cf", "knn")}

    def computed_again(*args, **kwargs):
        raise AssertionError("a kept list was computed again")

    monkeypatch.setattr("recommender.blend.people_ranked", computed_again)
    monkeypatch.setattr(similar, "_knn_ranked", computed_again)
    again = {method: similar.similar_films(heat, method=method) for method in ("blend", "cf", "knn")}

    assert {method: titles(films) for method, films in again.items()} == first
    assert again["cf"][0].why["liked_by"] == ["Liked by 12 of the 12 people who liked Heat"]
    assert titles(similar.similar_films(heat, method="blend", limit=10)) == first["blend"][:10]


def test_a_refit_of_the_co_liked_lists_makes_every_kept_list_stale(ratings):
    heat = film("Heat")
    before = titles(similar.similar_films(heat, method="cf"))
    version = similar.catalog_version()
    ImportedRating.objects.bulk_create([rate(user, "Finding Nemo", 5) for user in range(1, 13)])

    cf.refresh()

    assert similar.catalog_version() > version
    after = titles(similar.similar_films(heat, method="cf"))
    assert "Finding Nemo" in after[:5] and "Finding Nemo" not in before[:5]


def test_settings_other_than_the_pages_are_computed_each_time_and_never_kept(ratings):
    heat = film("Heat")
    kept = SimilarList.objects.count()

    similar.similar_films(heat, method="blend", prior=0.9)
    similar.similar_films(heat, method="knn", prior=0.0)
    similar.similar_films(heat, method="cf", candidates=Movie.objects.filter(genres__name="Crime"))

    assert SimilarList.objects.count() == kept
