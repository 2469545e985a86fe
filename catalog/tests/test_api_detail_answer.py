"""A film's API detail read in one statement (issue 16: film detail under load) is the answer the four reads
of `with_details()` and DRF's serializer made, byte for byte, on the demo catalog (credits and keywords)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer
from rest_framework.serializers import ModelSerializer
from rest_framework.test import APIClient

from catalog.api.serializers import MovieDetailSerializer, MovieWrittenSerializer
from catalog.models import Movie
from catalog.tests.helpers import make_movie

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture(autouse=True)
def web_server_connections(settings):
    """Count statements as a web server runs them (no SET LOCAL statement_timeout around each one)."""
    settings.CONNECTION_STATEMENT_TIMEOUT_MS = settings.REQUEST_STATEMENT_TIMEOUT_MS


def detail(pk: int) -> tuple[int, bytes, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = APIClient().get(f"/api/movies/{pk}/", HTTP_ACCEPT=JSON)
    return response.status_code, response.content, [query["sql"] for query in queries.captured_queries]


class GenericMovieDetailSerializer(MovieDetailSerializer):
    """MovieDetailSerializer as DRF's generic path writes it."""

    to_representation = ModelSerializer.to_representation


def prefetched(pk: int) -> bytes:
    """The same film loaded with the prefetches, serialized by DRF's generic path."""
    movie = Movie.objects.with_details().without_vectors().get(pk=pk)
    return JSONRenderer().render(GenericMovieDetailSerializer(movie).data)


def test_every_demo_films_detail_is_the_one_its_prefetches_made():
    films = list(Movie.objects.visible().order_by("pk").values_list("pk", flat=True))
    bodies = {pk: detail(pk)[1] for pk in films}
    assert all(bodies[pk] == prefetched(pk) for pk in films)
    # Credits, keywords and genres were really read, in their order.
    assert (
        sum(b'"cast":["' in body and b'"keywords":["' in body and b'"genres":["' in body for body in bodies.values())
        > 50
    )


def test_a_film_without_year_credits_keywords_or_genres_is_written_as_before():
    movie = make_movie(title="Zyzzogeton Nights", overview="A zyzzogeton wanders the night.", year=None)
    assert movie.release_date is None and movie.runtime is None
    status, body, _ = detail(movie.pk)
    assert status == 200 and body == prefetched(movie.pk)
    assert b'"keywords":[]' in body and b'"cast":[]' in body and b'"year":null' in body


def test_a_films_detail_is_read_with_its_relations_in_one_statement():
    pk = Movie.objects.filter(title="Jaws").values_list("pk", flat=True).get()
    status, _, statements = detail(pk)
    assert status == 200
    relations = ("catalog_credit", "catalog_keyword", "catalog_movie_genres")
    reads = [sql for sql in statements if '"catalog_movie"."title"' in sql or any(name in sql for name in relations)]
    assert len(reads) == 1 and all(name in reads[0] for name in relations)


def test_a_hidden_or_missing_film_is_a_404_as_before():
    movie = make_movie(title="Hidden Away", overview="Nobody sees it.", hidden=True)
    for pk in (movie.pk, 999_999_999):
        status, body, _ = detail(pk)
        assert status == 404 and body == b'{"detail":"No Movie matches the given query."}'


def test_a_serializer_with_fields_of_its_own_writes_every_one_of_them():
    class WithHidden(MovieDetailSerializer):
        class Meta(MovieDetailSerializer.Meta):
            fields = [*MovieDetailSerializer.Meta.fields, "hidden"]

    movie = Movie.objects.with_details().without_vectors().get(title="Jaws")
    for serializer in (WithHidden, MovieWrittenSerializer, MovieDetailSerializer):
        assert list(serializer(movie).data) == serializer.Meta.fields
