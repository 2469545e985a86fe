"""Similar films (knn, svm, tfidf), the quality prior, duplicates, the kept lists, and recommendations, on the
demo catalog with its real all-MiniLM-L6-v2 vectors and TF-IDF vectors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from catalog.models import Movie
from catalog.tests.helpers import make_movie
from recommender import similar
from recommender.models import SimilarList
from recommender.quality import refresh_quality
from recommender.similar import KEPT_METHODS, recommend, similar_films
from recommender.space import catalog_version

pytestmark = pytest.mark.django_db

METHODS = ["knn", "svm", "tfidf"]


def film(title: str) -> Movie:
    return Movie.objects.with_details().get(title=title)


def titles(movies: list[Movie]) -> list[str]:
    return [movie.title for movie in movies]


@pytest.mark.parametrize("method", METHODS)
def test_each_method_returns_40_films_without_the_seed(method):
    seed = film("The Godfather")
    results = similar_films(seed, method=method, limit=40)
    assert len(results) == 40
    assert seed.pk not in [movie.pk for movie in results]
    assert len({movie.pk for movie in results}) == 40
    assert all(0 <= movie.score <= 1 for movie in results)
    assert [movie.score for movie in results] == sorted((movie.score for movie in results), reverse=True)
    assert "The Godfather Part II" in titles(results[:3])


@pytest.mark.parametrize("method", METHODS)
def test_hidden_films_never_appear(method):
    seed = film("The Godfather")
    first = similar_films(seed, method=method, limit=10)
    hidden = first[0]
    Movie.objects.filter(pk=hidden.pk).update(hidden=True)
    again = similar_films(seed, method=method, limit=40)
    assert hidden.pk not in [movie.pk for movie in again]
    assert len(again) == 40


@pytest.mark.parametrize("method", METHODS)
def test_copies_of_the_seed_and_of_each_other_never_appear(method):
    seed = film("Alien")
    copy = make_movie(title="ALIEN", year=seed.year, overview=seed.overview, genres=("Horror", "Science Fiction"))
    Movie.objects.filter(pk=copy.pk).update(embedding=seed.embedding, embedding_model=seed.embedding_model)
    aliens = film("Aliens")
    twin = make_movie(title="Aliens!", year=aliens.year, overview=aliens.overview)
    Movie.objects.filter(pk=twin.pk).update(embedding=aliens.embedding, embedding_model=aliens.embedding_model)
    call_command("warm_similar", "--method", "tfidf", "--films", "1", "--refresh", stdout=io.StringIO())

    results = titles(similar_films(seed, method=method, limit=40))
    assert "ALIEN" not in results
    assert {"Aliens", "Aliens!"} & set(results)  # one of the two copies...
    assert not {"Aliens", "Aliens!"} <= set(results)  # ...never both


@pytest.mark.parametrize("method", METHODS)
def test_each_film_says_why_it_is_similar(method):
    results = similar_films(film("The Godfather"), method=method, limit=5)
    sequel = next(movie for movie in results if movie.title == "The Godfather Part II")
    assert {"Crime", "Drama"} <= set(sequel.why["genres"])
    assert "Al Pacino" in sequel.why["people"]
    if method == "tfidf":
        assert "corleone" in sequel.why["terms"]
    else:
        assert "terms" not in sequel.why


def test_the_quality_prior_breaks_near_ties_and_only_those():
    seed = make_movie(title="Seed", embed_with="fake")
    twins = [
        make_movie(title="Twin 0", vote_count=10, vote_average=7.0),
        make_movie(title="Twin 1", vote_count=90000, vote_average=8.0),
    ]
    far = make_movie(title="Far", vote_count=500000, vote_average=9.0)
    vector = np.asarray(seed.embedding)
    for twin in twins:
        Movie.objects.filter(pk=twin.pk).update(embedding=vector * 0.99 + 0.01, embedding_model=seed.embedding_model)
    Movie.objects.filter(pk=far.pk).update(embedding=-vector, embedding_model=seed.embedding_model)
    refresh_quality()
    own = Movie.objects.filter(pk__in=[twin.pk for twin in twins] + [far.pk])

    with_prior = titles(similar_films(seed, limit=3, prior=0.2, candidates=own))
    assert with_prior == ["Twin 1", "Twin 0", "Far"]  # the well-known twin first; the far film stays last
    assert titles(similar_films(seed, limit=3, prior=0.0, candidates=own))[2] == "Far"
    assert titles(similar_films(seed, limit=3, prior=1.0, candidates=own))[0] == "Far"


def test_svm_and_tfidf_lists_are_kept_and_recomputed_when_the_catalog_changes():
    seed = film("Blade Runner")
    first = similar_films(seed, method="svm", limit=40)
    kept = SimilarList.objects.get(movie=seed, method="svm")
    assert kept.catalog_version == catalog_version()
    assert kept.movie_ids[:40] == [movie.pk for movie in first]

    Movie.objects.filter(pk=first[0].pk).update(hidden=True)
    assert catalog_version() > kept.catalog_version
    again = similar_films(seed, method="svm", limit=40)
    kept.refresh_from_db()
    assert kept.catalog_version == catalog_version()
    assert first[0].pk not in kept.movie_ids
    assert [movie.pk for movie in again] == kept.movie_ids[:40]


def test_only_lists_with_the_default_settings_are_kept():
    seed = film("Heat")
    similar_films(seed, method="svm", C=0.5)
    similar_films(seed, method="tfidf", prior=0.0)
    assert not SimilarList.objects.filter(movie=seed).exists()
    similar_films(seed, method="svm")
    assert SimilarList.objects.filter(movie=seed).count() == 1


def test_only_lists_over_every_visible_film_are_kept_however_the_candidates_are_written():
    seed = film("Heat")
    # Narrowed to visible films is every film a list may hold anyway, but candidates given are candidates:
    # the choice is the caller's, never guessed from the queryset's filters.
    narrowed = similar_films(seed, method="tfidf", candidates=Movie.objects.visible())
    assert not SimilarList.objects.filter(movie=seed).exists()
    assert [movie.pk for movie in similar_films(seed, method="tfidf")] == [movie.pk for movie in narrowed]
    assert SimilarList.objects.filter(movie=seed, method="tfidf").count() == 1


def test_a_kept_list_is_served_without_fitting_again(monkeypatch):
    seed = film("Heat")
    first = similar_films(seed, method="svm", limit=40)

    def no_fitting(*args, **kwargs):
        raise AssertionError("the kept list should have been used")

    monkeypatch.setattr(similar, "_svm_scores", no_fitting)
    assert [movie.pk for movie in similar_films(seed, method="svm", limit=20)] == [movie.pk for movie in first[:20]]


def test_svm_on_a_large_catalog_fits_on_hard_negatives_and_agrees_with_the_full_fit(monkeypatch):
    seed = film("Alien")
    full = similar_films(seed, method="svm", limit=40, prior=0.0)
    monkeypatch.setattr(similar, "FULL_FIT_MAX", 50)
    monkeypatch.setattr(similar, "HARD_NEGATIVES", 150)
    monkeypatch.setattr(similar, "RANDOM_NEGATIVES", 50)
    sampled = similar_films(seed, method="svm", limit=40, prior=0.0, C=0.100001)  # not the kept list
    overlap = len({m.pk for m in full} & {m.pk for m in sampled}) / 40
    assert overlap >= 0.8
    assert titles(sampled[:1]) == titles(full[:1])


def test_a_film_without_a_vector_has_no_knn_or_svm_list():
    lonely = Movie.objects.with_details().get(pk=make_movie(title="No Vector").pk)
    assert similar_films(lonely, method="knn") == []
    assert similar_films(lonely, method="svm") == []


def test_unknown_methods_are_refused():
    with pytest.raises(ValueError, match="knn, svm, tfidf"):
        similar_films(film("Heat"), method="bm25")


# -- recommendations ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["svm", "centroid"])
def test_recommendations_from_several_liked_films(method):
    liked = [film(title).pk for title in ("Alien", "The Terminator", "Blade Runner")]
    results = recommend(liked=liked, limit=20, method=method)
    assert len(results) == 20
    assert not {movie.pk for movie in results} & set(liked)
    assert sum("Science Fiction" in movie.why["genres"] for movie in results[:10]) >= 6
    liked_names = {"Alien (1979)", "The Terminator (1984)", "Blade Runner (1982)"}
    assert all(movie.why["because_you_liked"][0] in liked_names for movie in results)


def test_disliked_films_are_left_out_and_push_their_kind_down():
    liked = [film(title).pk for title in ("Alien", "The Terminator")]
    plain = recommend(liked=liked, limit=40)
    disliked = [plain[0].pk]
    results = recommend(liked=liked, disliked=disliked, limit=40)
    assert plain[0].pk not in [movie.pk for movie in results]
    assert len(results) == 40


def test_recommendations_without_any_usable_liked_film_are_empty():
    assert recommend(liked=[make_movie(title="No Vector").pk]) == []
    assert recommend(liked=[]) == []


def test_warm_similar_keeps_the_lists_of_the_most_popular_films():
    out = io.StringIO()
    call_command("warm_similar", "--films", "3", stdout=out, stderr=io.StringIO())
    for method in KEPT_METHODS:  # every method's default list is kept, the default one (blend) included
        assert f"{method}: 3 lists computed" in out.getvalue()
    assert SimilarList.objects.filter(catalog_version=catalog_version()).count() == 3 * len(KEPT_METHODS)
    out = io.StringIO()
    call_command("warm_similar", "--films", "3", stdout=out, stderr=io.StringIO())
    assert "svm: 0 lists computed, 3 were already kept" in out.getvalue()


def test_knns_pool_is_five_hundred_up_to_fifty_thousand_films_and_two_hundred_at_a_million():
    # Up to 50,000 films exactly the pool benchmarks/cf_quality.py chose knn's settings with.
    assert similar.knn_pool_size(0) == similar.knn_pool_size(4_803) == similar.knn_pool_size(50_000) == 500
    assert similar.knn_pool_size(100_000) == 430
    assert similar.knn_pool_size(1_000_000) == similar.knn_pool_size(100_000_000) == 200


@pytest.mark.parametrize(("films", "pool"), [(330, 500), (1_000_000, 200)])
def test_knn_draws_the_pool_of_the_catalogs_size(monkeypatch, films, pool):
    drawn = []
    draw = similar._knn_pool
    monkeypatch.setattr(similar.spaces, "catalog_size", lambda: films)
    monkeypatch.setattr(
        similar, "_knn_pool", lambda movie, base, *, pool: drawn.append(pool) or draw(movie, base, pool=pool)
    )
    SimilarList.objects.all().delete()
    assert len(similar_films(film("The Godfather"), method="knn")) == 40
    assert drawn == [pool]
