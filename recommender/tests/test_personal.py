"""Personal recommendations: never a rated or hidden film, low ratings count against, co-liked films join the
content ranking, cached by ratings."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from catalog.models import ImportedRating, Movie, Rating
from recommender import cf
from recommender.personal import (
    Taste,
    because_you_liked,
    content_scores,
    people_scores,
    popular_and_recent,
    recommend_for_user,
    taste_of,
)
from recommender.space import vector_space

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


def film(title: str) -> Movie:
    return Movie.objects.get(title=title)


def rate(user, title: str, stars: str) -> Movie:
    movie = film(title)
    Rating.objects.update_or_create(user=user, movie=movie, defaults={"stars": Decimal(stars)})
    return movie


@pytest.fixture
def fan():
    return get_user_model().objects.create_user("fan")


def test_ratings_split_into_liked_disliked_and_neutral(fan):
    liked, disliked, neutral = rate(fan, "Jaws", "4.5"), rate(fan, "Alien", "1"), rate(fan, "The Godfather", "3")
    taste = taste_of(fan)
    assert taste.liked == {liked.pk: 2.0}
    assert taste.disliked == {disliked.pk: 2.0}
    assert taste.rated == {liked.pk, disliked.pk, neutral.pk}


def test_no_rated_film_is_recommended_back_liked_disliked_or_neutral(fan):
    rated = [rate(fan, "The Godfather", "5"), rate(fan, "Goodfellas", "4"), rate(fan, "Alien", "2"),
             rate(fan, "Jaws", "3")]  # fmt: skip
    films = recommend_for_user(fan, limit=100)
    assert len(films) == 100
    assert not {movie.pk for movie in films} & {movie.pk for movie in rated}


def test_no_hidden_film_is_recommended(fan):
    rate(fan, "The Godfather", "5")
    first = recommend_for_user(fan, limit=5)
    Movie.objects.filter(pk=first[0].pk).update(hidden=True)  # bumps the catalog version: a new cache key
    assert first[0].pk not in {movie.pk for movie in recommend_for_user(fan, limit=40)}
    assert first[0].pk not in {movie.pk for row in because_you_liked(fan) for movie in row.films}


def test_a_disliked_film_pushes_films_like_it_down():
    godfather, alien = film("The Godfather"), film("Alien")
    space = vector_space(godfather.embedding_model)
    liked = {godfather.pk: 2.5}
    plain = content_scores(space, Taste(liked=liked, disliked={}, rated=frozenset()))
    with_dislike = content_scores(space, Taste(liked=liked, disliked={alien.pk: 2.5}, rated=frozenset()))
    closeness = space.vectors @ space.vectors[space.rows_of([alien.pk])[0]]
    closeness[space.rows_of([alien.pk, godfather.pk])] = -1
    like_alien = int(np.argmax(closeness))  # the film most like the disliked one

    def rank(scores: np.ndarray) -> int:
        return int((scores > scores[like_alien]).sum())

    assert rank(with_dislike) > rank(plain)
    assert np.corrcoef(plain, with_dislike)[0, 1] > 0.5  # the rest of the ranking still follows the liked film


def test_each_recommendation_names_the_liked_film_behind_it(fan):
    rate(fan, "The Godfather", "5")
    rate(fan, "Alien", "4")
    films = recommend_for_user(fan, limit=20)
    assert {film.why["because_you_liked"][0] for film in films} <= {"The Godfather (1972)", "Alien (1979)"}


def test_rows_follow_the_best_rated_films_and_show_no_film_twice(fan):
    rate(fan, "Jaws", "4")
    rate(fan, "The Godfather", "5")
    rate(fan, "Alien", "4.5")
    rows = because_you_liked(fan)
    assert [row.seed.title for row in rows] == ["The Godfather", "Alien", "Jaws"]
    shown = [movie.pk for row in rows for movie in row.films]
    assert len(shown) == len(set(shown))
    assert not set(shown) & set(taste_of(fan).rated)


def test_a_new_rating_changes_the_list_at_once(fan):
    rate(fan, "The Godfather", "5")
    first = recommend_for_user(fan, limit=10)
    rate(fan, first[0].title, "4")
    assert first[0].pk not in {movie.pk for movie in recommend_for_user(fan, limit=10)}


def test_a_cached_list_costs_few_queries(fan, django_assert_max_num_queries):
    rate(fan, "The Godfather", "5")
    recommend_for_user(fan, limit=40)
    with django_assert_max_num_queries(6):
        assert len(recommend_for_user(fan, limit=40)) == 40


def test_without_ratings_popular_and_recent_films_come_first():
    films = popular_and_recent(limit=20)
    assert len(films) == 20
    assert films[0].score == 1.0
    assert all(films[i].score >= films[i + 1].score for i in range(19))


def test_a_user_who_only_disliked_gets_popular_films_without_those(fan):
    disliked = rate(fan, "Jaws", "1")
    films = recommend_for_user(fan, limit=40)
    assert len(films) == 40
    assert disliked.pk not in {movie.pk for movie in films}


def test_films_co_liked_with_the_liked_ones_lead_the_list_and_rated_or_hidden_ones_never_appear(fan):
    # Twelve people who like The Godfather also like Toy Story and Finding Nemo; nothing in the films' text
    # ties them, so only the co-likes can bring them up.
    godfather, toy_story, nemo = film("The Godfather"), film("Toy Story"), film("Finding Nemo")
    rows = [ImportedRating(source="test", user=user, movie=movie, rating=5)
            for user in range(12) for movie in (godfather, toy_story, nemo)]  # fmt: skip
    ImportedRating.objects.bulk_create(rows)
    cf.refresh()
    rate(fan, "The Godfather", "5")
    films = recommend_for_user(fan, limit=40)
    assert {toy_story.pk, nemo.pk} <= {movie.pk for movie in films[:5]}
    assert godfather.pk not in {movie.pk for movie in films}

    rate(fan, "Toy Story", "2")  # rated: never recommended back, whatever the co-likes say
    Movie.objects.filter(pk=nemo.pk).update(hidden=True)
    films = recommend_for_user(fan, limit=40)
    assert not {godfather.pk, toy_story.pk, nemo.pk} & {movie.pk for movie in films}


def test_without_co_liked_films_the_list_is_content_and_the_prior_alone(fan):
    rate(fan, "The Godfather", "5")
    assert cf.co_liked_lists([film("The Godfather").pk]) == {}
    assert people_scores(taste_of(fan), {}) == {}
    assert len(recommend_for_user(fan, limit=40)) == 40
