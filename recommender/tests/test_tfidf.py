"""TF-IDF vectors: terms that are words or whole names, and films placed with the stored vocabulary after
the fit (a film added later, a film edited)."""

from __future__ import annotations

import pytest

from catalog.models import Movie
from catalog.tests.helpers import make_movie
from recommender.models import FilmFeatures
from recommender.similar import similar_films
from recommender.tfidf import refresh_tfidf, vocabulary

pytestmark = pytest.mark.django_db


def film(title: str) -> Movie:
    return Movie.objects.with_details().get(title=title)


def titles(movies: list[Movie]) -> list[str]:
    return [movie.title for movie in movies]


def test_tfidf_terms_are_names_or_words_never_pairs_straddling_two_names():
    results = similar_films(film("The Godfather"), method="tfidf", limit=40)
    terms = {term for movie in results for term in movie.why["terms"]}
    assert "al pacino" in terms or "francis ford coppola" in terms
    assert not any(term.startswith("duvall ") for term in terms)


def test_tfidf_places_a_film_added_after_the_fit_with_the_stored_vocabulary():
    newcomer = make_movie(
        title="The Godmother",
        genres=("Crime", "Drama"),
        keywords=("mafia", "crime family"),
        cast=("Al Pacino",),
        overview="The aging matriarch of a mafia crime family hands her empire to her reluctant son, a Corleone.",
    )
    assert not FilmFeatures.objects.filter(movie=newcomer, tfidf__isnull=False).exists()
    results = titles(similar_films(Movie.objects.with_details().get(pk=newcomer.pk), method="tfidf"))
    assert {"The Godfather", "The Godfather Part II"} <= set(results[:5])


def test_an_edited_film_is_placed_again_with_the_stored_vocabulary():
    godfather = film("The Godfather")
    before = FilmFeatures.objects.get(movie=godfather).tfidf
    Movie.objects.filter(pk=godfather.pk).update(overview="A shark terrorizes a beach town.")
    assert refresh_tfidf([godfather.pk]) == 1
    after = FilmFeatures.objects.get(movie=godfather).tfidf
    assert after.indices() != before.indices()
    assert "shark" in [vocabulary()[i] for i in after.indices()]
