from __future__ import annotations

import pytest

from catalog.models import Movie
from catalog.search import keyword_scores
from catalog.tests.helpers import ids, make_movie

pytestmark = pytest.mark.django_db


def test_the_generated_search_column_weights_title_people_tags_and_text():
    movie = make_movie(
        title="Quixotic Harbour",
        overview="A lighthouse keeper waits.",
        genres=("Drama",),
        keywords=("lighthouse",),
        directors=("Ada Zorrilla",),
    )
    vector = Movie.objects.values_list("search_vector", flat=True).get(pk=movie.pk)
    assert vector == "'ada':3B 'drama':5C 'harbour':2A 'keeper':9 'lighthous':6C,8 'quixot':1A 'wait':10 'zorrilla':4B"


def test_accents_are_folded_in_the_search_column():
    make_movie(title="Amélie Rêverie", overview="Paris.")
    assert ids(keyword_scores(Movie.objects.all(), "amelie reverie", limit=5))


def test_refresh_search_text_follows_credit_changes():
    movie = make_movie(title="Silent Orchard", cast=("Bruno Kessler",))
    assert ids(keyword_scores(Movie.objects.all(), "kessler", limit=5)) == [movie.pk]
    movie.credits.all().delete()
    movie.refresh_search_text()
    assert movie.people_text == ""
    assert ids(keyword_scores(Movie.objects.all(), "kessler", limit=5)) == []


def test_the_document_puts_the_facts_before_a_long_plot():
    movie = make_movie(
        title="Longwinded",
        year=1999,
        genres=("Drama",),
        directors=("Ines Varga",),
        overview="Short overview.",
        plot=" ".join(["word"] * 5000),
    )
    document = Movie.objects.with_credits().get(pk=movie.pk).document()
    assert document.startswith("Longwinded (1999) Genres: Drama. Directed by: Ines Varga.")
    assert "Short overview." in document
    assert len(document.split()) <= 180


def test_external_ids_are_unique_but_may_be_missing():
    make_movie(title="One", imdb_id=None)
    make_movie(title="Two", imdb_id=None)
    make_movie(title="Three", imdb_id="tt0000001")
    with pytest.raises(Exception, match="unique"):
        make_movie(title="Four", imdb_id="tt0000001")
