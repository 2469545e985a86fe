"""What follows a change to the films: catalog.changes refreshes catalog's part and announces the change; the
recommender, listening, refreshes its own."""

from __future__ import annotations

import io
import weakref

import pytest

from catalog.changes import after_films_change, after_import, catalog_imported, films_changed
from catalog.models import LexemeStat, Movie
from catalog.tests.helpers import make_movie
from recommender.models import FilmFeatures
from recommender.receivers import refresh_catalog_features, refresh_film_features

pytestmark = pytest.mark.django_db


def listeners(signal) -> list:
    """The functions connected to `signal` (Django keeps weak references to them)."""
    refs = [entry[1] for entry in signal.receivers]
    return [ref() if isinstance(ref, weakref.ReferenceType) else ref for ref in refs]


def test_the_recommender_listens_to_both_announcements():
    assert refresh_film_features in listeners(films_changed)
    assert refresh_catalog_features in listeners(catalog_imported)


def test_a_changed_film_gets_its_search_text_and_tfidf_vector_at_once():
    movie = make_movie(title="Harbour Lights")
    heard = []
    films_changed.connect(lambda sender, movie_ids, **kwargs: heard.append(movie_ids), weak=False, dispatch_uid="t")
    try:
        movie.keywords.create(name="Lighthouse Keeper", slug="lighthouse-keeper")
        after_films_change([movie.pk, movie.pk])
    finally:
        films_changed.disconnect(dispatch_uid="t")
    assert heard == [[movie.pk]]
    assert "Lighthouse Keeper" in Movie.objects.get(pk=movie.pk).tags_text
    assert FilmFeatures.objects.get(movie=movie).tfidf is not None


def test_nothing_changed_announces_nothing():
    heard = []
    films_changed.connect(lambda sender, **kwargs: heard.append(kwargs), weak=False, dispatch_uid="t")
    try:
        after_films_change([])
    finally:
        films_changed.disconnect(dispatch_uid="t")
    assert heard == []


def test_after_an_import_statistics_priors_and_tfidf_are_refreshed():
    LexemeStat.objects.all().delete()
    FilmFeatures.objects.all().delete()
    summaries = after_import(stdout=io.StringIO())
    assert LexemeStat.objects.get(word="").documents == Movie.objects.visible().count()
    assert FilmFeatures.objects.filter(quality__isnull=False).exists()
    assert FilmFeatures.objects.filter(tfidf__isnull=False).count() == Movie.objects.count()
    assert len(summaries) == 1 and summaries[0].startswith("TF-IDF: ")
