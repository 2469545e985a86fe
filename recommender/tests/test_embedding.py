from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Movie
from catalog.search import semantic_scores
from catalog.tests.helpers import ids, make_movie
from recommender.embedding import embed_movies, stale_chunk
from recommender.encoders import FakeEncoder, content_hash

pytestmark = pytest.mark.django_db


def test_only_missing_or_stale_vectors_are_computed():
    movie = make_movie(title="Fresh Paint", overview="A painter repaints a lighthouse.")
    films = Movie.objects.filter(pk=movie.pk)
    encoder = FakeEncoder()
    assert embed_movies(queryset=films, encoder=encoder, show_progress=False).embedded == 1
    assert embed_movies(queryset=films, encoder=encoder, show_progress=False).embedded == 0

    movie.refresh_from_db()
    assert movie.embedding_model == encoder.name
    document = Movie.objects.with_credits().get(pk=movie.pk).document()
    assert movie.embedding_hash == content_hash(encoder.name, document)

    Movie.objects.filter(pk=movie.pk).update(overview="A painter repaints a ship.")
    result = embed_movies(queryset=films, encoder=encoder, show_progress=False)
    assert (result.embedded, result.unchanged) == (1, 0)
    assert embed_movies(queryset=films, encoder=encoder, force=True, show_progress=False).embedded == 1


def test_switching_model_re_embeds_and_search_never_mixes_models(settings):
    movie = make_movie(title="Switchboard", overview="Operators connect calls.", embed_with="fake")
    settings.EMBEDDING_BACKEND = "local"
    # Films embedded by another model are invisible to this model's semantic search until re-embedded.
    assert movie.pk not in ids(semantic_scores(Movie.objects.all(), "switchboard operators", limit=400))
    embed_movies(queryset=Movie.objects.filter(pk=movie.pk), show_progress=False)
    assert movie.pk in ids(semantic_scores(Movie.objects.all(), "switchboard operators", limit=400))


def test_the_embed_movies_command_reports_what_it_did():
    make_movie(title="Command Line", overview="A terminal story.")
    out = io.StringIO()
    call_command("embed_movies", "--backend", "fake", stdout=out, stderr=io.StringIO())
    assert "with fake-hashed-words" in out.getvalue()
    assert Movie.objects.filter(embedding_model="fake-hashed-words").exists()


def test_the_embed_movies_command_explains_a_missing_key(settings):
    settings.OPENAI_API_KEY = ""
    with pytest.raises(CommandError, match="OPENAI_API_KEY"):
        call_command("embed_movies", "--backend", "openai", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_bulk_write_builds_the_vector_index_after_the_vectors_and_a_missing_index_comes_back(monkeypatch):
    from recommender import embedding

    index_present_while_encoding = []

    class WatchingEncoder(FakeEncoder):
        def encode(self, texts, *, batch_size=64):
            index_present_while_encoding.append(embedding._has_index())
            return super().encode(texts, batch_size=batch_size)

    monkeypatch.setattr(embedding, "REBUILD_INDEX_ABOVE", 0)
    Movie.objects.update(embedding=None, embedding_hash="")
    result = embed_movies(encoder=WatchingEncoder(), show_progress=False)
    assert result.embedded == Movie.objects.count()
    assert index_present_while_encoding and not any(index_present_while_encoding)
    assert embedding._has_index()

    with embedding.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {embedding.VECTOR_INDEX}")  # what a run killed mid-way leaves behind
    monkeypatch.setattr(embedding, "REBUILD_INDEX_ABOVE", 10**9)
    embed_movies(encoder=FakeEncoder(), show_progress=False)
    assert embedding._has_index()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_reading_and_writing_run_beside_the_model():
    films = [make_movie(title=f"Threaded Film {n}", overview=f"Story number {n} of a lighthouse.") for n in range(150)]
    result = embed_movies(queryset=Movie.objects.filter(pk__in=[f.pk for f in films]), encoder=FakeEncoder(),
                          batch_size=16, show_progress=False)  # fmt: skip
    assert (result.embedded, result.unchanged) == (150, 0)
    assert Movie.objects.filter(pk__in=[f.pk for f in films], embedding_model="fake-hashed-words").count() == 150
    again = embed_movies(queryset=Movie.objects.filter(pk__in=[f.pk for f in films]), encoder=FakeEncoder())
    assert (again.embedded, again.unchanged) == (0, 150)


def test_finding_the_stale_films_reads_no_vector_film_by_film():
    """Only whether a film has each vector matters (annotated): reading a deferred vector would be one query
    per film, 5,000 per chunk (a re-run over the merged catalog took 9-12 s against 3.7 s without them)."""
    embed_movies(encoder=FakeEncoder(), show_progress=False)
    with CaptureQueriesContext(connection) as queries:
        _, films, todo = stale_chunk(Movie.objects.all(), 0, FakeEncoder(), False)
    assert films == Movie.objects.count() > 300 and todo == []
    assert len(queries.captured_queries) <= 5  # the films, then genres, credits with people, keywords
