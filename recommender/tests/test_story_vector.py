"""Two vectors per film (issue 13, third round): the document's, names included, for similar films and
recommendations; the story's, the same text without the names, for semantic search."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.db.models import Value
from django.test.utils import CaptureQueriesContext

from catalog import search
from catalog.models import STORY_INDEX, VECTOR_INDEX, Movie
from catalog.search import semantic_scores
from catalog.tests.helpers import ids, make_movie
from recommender import embedding
from recommender.embedding import embed_movies, stale_films
from recommender.encoders import FakeEncoder, content_hash, get_encoder
from recommender.similar import similar_films

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_backend(settings) -> None:
    settings.EMBEDDING_BACKEND = "fake"


def credited_film(**fields) -> Movie:
    fields = {
        "title": "Lamplighter",
        "overview": "A keeper tends a lonely lighthouse through a winter of storms.",
        "genres": ("Drama",),
        "directors": ("Zebediah Quince",),
        "cast": ("Ottoline Marchbanks", "Peregrine Fairweather"),
        **fields,
    }
    return make_movie(**fields)


def vector_of(movie: Movie, column: str) -> np.ndarray | None:
    value = Movie.objects.filter(pk=movie.pk).values_list(column, flat=True).get()
    return None if value is None else np.asarray(value, dtype=np.float32)


def test_the_story_is_the_document_without_its_names_and_nothing_else_changes():
    film = Movie.objects.with_details().get(pk=credited_film().pk)
    document, story = film.document(), film.story()
    assert "Zebediah Quince" in document and "Ottoline Marchbanks" in document
    assert "Quince" not in story and "Marchbanks" not in story
    assert (
        document.replace("Directed by: Zebediah Quince. Starring: Ottoline Marchbanks, Peregrine Fairweather. ", "")
        == story
    )

    uncredited = Movie.objects.with_details().get(pk=make_movie(title="Tidewater", overview="Sailors race home.").pk)
    assert uncredited.story() == uncredited.document()


def test_the_import_fills_the_story_vector_of_films_with_credits():
    """The demo catalog, imported by `import_movies` with the real model at the start of the run."""
    film = Movie.objects.with_details().get(title="Jaws")
    assert film.directors and film.story_embedding is not None
    assert film.story_hash == content_hash(film.embedding_model, film.story())
    assert film.embedding_hash == content_hash(film.embedding_model, film.document())
    # Two vectors of one model, of different texts.
    assert not np.allclose(np.asarray(film.story_embedding), np.asarray(film.embedding))


def test_a_film_without_credits_is_embedded_once_and_keeps_no_story_vector():
    films = [make_movie(title=f"Quiet Film {n}", overview=f"Story number {n} of a harbour.") for n in range(3)]
    result = embed_movies(queryset=Movie.objects.filter(pk__in=[f.pk for f in films]), encoder=FakeEncoder(),
                          show_progress=False)  # fmt: skip
    assert (result.embedded, result.texts) == (3, 3)  # one text each: the story is the document
    for film in Movie.objects.filter(pk__in=[f.pk for f in films]):
        assert film.story_embedding is None and film.embedding is not None
        assert film.story_hash == film.embedding_hash


def test_a_credited_film_gets_two_vectors_and_a_rerun_embeds_nothing():
    film = credited_film()
    films = Movie.objects.filter(pk=film.pk)
    result = embed_movies(queryset=films, encoder=FakeEncoder(), show_progress=False)
    assert (result.embedded, result.texts) == (1, 2)
    story = Movie.objects.with_details().get(pk=film.pk).story()
    expected = FakeEncoder().encode([story])[0]
    assert vector_of(film, "story_embedding") == pytest.approx(expected, abs=1e-6)
    again = embed_movies(queryset=films, encoder=FakeEncoder(), show_progress=False)
    assert (again.embedded, again.unchanged, again.texts) == (0, 1, 0)


def test_a_change_of_credits_re_embeds_the_document_alone_and_a_change_of_story_both():
    film = credited_film(embed_with="fake")
    story_before = vector_of(film, "story_embedding")
    encoder = FakeEncoder()

    film.credits.filter(role="cast").delete()
    [stale] = stale_films([Movie.objects.with_details().get(pk=film.pk)], encoder)
    assert stale.document is not None and stale.story is None  # the names changed, not the story
    embed_movies(queryset=Movie.objects.filter(pk=film.pk), encoder=encoder, show_progress=False)
    assert vector_of(film, "story_embedding") == pytest.approx(story_before)

    Movie.objects.filter(pk=film.pk).update(overview="A keeper leaves the lighthouse for the city.")
    [stale] = stale_films([Movie.objects.with_details().get(pk=film.pk)], encoder)
    assert stale.document is not None and stale.story is not None
    embed_movies(queryset=Movie.objects.filter(pk=film.pk), encoder=encoder, show_progress=False)
    assert vector_of(film, "story_embedding") != pytest.approx(story_before)
    assert stale_films([Movie.objects.with_details().get(pk=film.pk)], encoder) == []


def test_semantic_search_reads_the_story_vector(fake_backend):
    film = credited_film(embed_with="fake")
    # With the bag-of-words encoder, a query of the names alone is near the document vector only.
    query = "Zebediah Quince Ottoline Marchbanks"
    by_document = dict(Movie.objects.nearest(get_encoder().encode([query])[0], model="fake-hashed-words", limit=50))
    by_story = dict(semantic_scores(Movie.objects.all(), query, limit=50))
    assert by_document[film.pk] > 0.3
    assert by_story.get(film.pk, 0.0) < 0.1

    # The story vector decides: give the film a story vector equal to the query's, and it comes first.
    vector = "[" + ",".join(map(str, get_encoder().encode(["a ship in a bottle"])[0])) + "]"
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_movie SET story_embedding = %s::vector WHERE id = %s", [vector, film.pk])
    [(first, similarity)] = semantic_scores(Movie.objects.all(), "a ship in a bottle", limit=1)
    assert first == film.pk and similarity == pytest.approx(1.0, abs=1e-3)


def test_without_a_story_vector_search_falls_back_to_the_document_vector_until_embed_movies(fake_backend):
    """What `migrate` leaves: the column empty, no story hash; search still finds every film."""
    film = credited_film(embed_with="fake")
    Movie.objects.filter(pk=film.pk).update(story_embedding=None, story_hash="")
    query = "Zebediah Quince Ottoline Marchbanks"
    assert ids(semantic_scores(Movie.objects.filter(pk=film.pk), query, limit=5)) == [film.pk]
    by_document = dict(Movie.objects.nearest(get_encoder().encode([query])[0], model="fake-hashed-words", limit=50))
    assert dict(semantic_scores(Movie.objects.all(), query, limit=50))[film.pk] == pytest.approx(by_document[film.pk])

    result = embed_movies(queryset=Movie.objects.filter(pk=film.pk), encoder=FakeEncoder(), show_progress=False)
    assert (result.embedded, result.texts) == (1, 1)  # the story alone: the document vector was fresh
    assert vector_of(film, "story_embedding") is not None
    assert dict(semantic_scores(Movie.objects.all(), query, limit=50)).get(film.pk, 0.0) < 0.1


def test_semantic_mode_reads_both_vectors_and_hybrid_the_story_alone(fake_backend):
    """Semantic mode scores each film by the greater of its story and document cosines (a name is in the
    document only); hybrid mode's semantic signal stays the story's, its keyword signal finds names."""
    film = credited_film(embed_with="fake")
    make_movie(title="Driftwood", overview="A ship in a bottle washes up on a beach.", embed_with="fake")
    query = "Zebediah Quince Ottoline Marchbanks"
    by_document = dict(Movie.objects.nearest(get_encoder().encode([query])[0], model="fake-hashed-words", limit=50))
    both = dict(semantic_scores(Movie.objects.all(), query, limit=50, document=True))
    assert both[film.pk] == pytest.approx(by_document[film.pk]) and both[film.pk] > 0.3
    assert ids(semantic_scores(Movie.objects.all(), query, limit=1, document=True)) == [film.pk]

    films = Movie.objects.visible()
    with CaptureQueriesContext(connection) as queries:
        semantic = search.signals(films, query, mode="semantic", alpha=0.5, pool=50)
    assert sum("<=>" in q["sql"] for q in queries.captured_queries) == 1
    assert semantic["semantic"][0][0] == film.pk
    # One statement, each pool through its own index.
    with CaptureQueriesContext(connection) as queries:
        semantic_scores(Movie.objects.all(), query, limit=5, document=True)
    [sql] = [q["sql"] for q in queries.captured_queries if "<=>" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {STORY_INDEX}" in plan and f"Index Scan using {VECTOR_INDEX}" in plan
    with CaptureQueriesContext(connection) as queries:
        hybrid = search.signals(films, query, mode="hybrid", alpha=0.5, pool=50)
    assert sum("<=>" in q["sql"] for q in queries.captured_queries) == 1
    assert dict(hybrid["semantic"]).get(film.pk, 0.0) < 0.1
    assert films.search(query, mode="semantic").results[0].pk == film.pk


def test_semantic_mode_keeps_a_films_better_cosine_and_the_best_films_of_either_vector(fake_backend):
    """The story vector decides when it is the nearer one, and the cut to `limit` keeps the best of both pools."""
    film = credited_film(embed_with="fake")
    other = make_movie(title="Driftwood", overview="Gulls over a grey harbour at dawn.", embed_with="fake")
    vector = "[" + ",".join(map(str, get_encoder().encode(["a ship in a bottle"])[0])) + "]"
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_movie SET story_embedding = %s::vector WHERE id = %s", [vector, film.pk])
    ranking = semantic_scores(Movie.objects.all(), "a ship in a bottle", limit=2, document=True)
    assert ids(ranking) == [film.pk, other.pk]
    assert ranking[0][1] == pytest.approx(1.0, abs=1e-3)
    assert [score for _, score in ranking] == sorted((score for _, score in ranking), reverse=True)
    # Films whose filter is not written out (an annotation, a join) take two statements, with the same answer.
    vector = get_encoder().encode(["a ship in a bottle"])[0]
    model = "fake-hashed-words"
    written = Movie.objects.all().nearest_story_or_document(vector, model=model, limit=2)
    through_the_orm = Movie.objects.annotate(one=Value(1)).nearest_story_or_document(vector, model=model, limit=2)
    assert ids(through_the_orm) == ids(written)
    assert [score for _, score in through_the_orm] == pytest.approx([score for _, score in written], abs=1e-6)


def test_the_semantic_query_is_answered_by_the_story_index(fake_backend):
    credited_film(embed_with="fake")
    with CaptureQueriesContext(connection) as queries:
        semantic_scores(Movie.objects.all(), "a lonely lighthouse", limit=5)
    [sql] = [query["sql"] for query in queries.captured_queries if "<=>" in query["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {STORY_INDEX}" in plan


@pytest.mark.parametrize("method", ["knn", "svm"])
def test_similar_films_never_read_the_story_vector(method):
    seed = Movie.objects.with_details().get(title="Jaws")
    before = [film.pk for film in similar_films(seed, method=method, prior=0.3)]
    # Every film's story vector made the same: anything reading it could no longer tell films apart.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_movie SET story_embedding = (SELECT embedding FROM catalog_movie WHERE id = %s)",
            [seed.pk],
        )
    assert len({score for _, score in semantic_scores(Movie.objects.all(), "a shark", limit=20)}) == 1
    assert [film.pk for film in similar_films(seed, method=method, prior=0.3)] == before


def test_an_interrupted_run_leaves_both_indexes_and_a_rerun_finishes_the_stories(monkeypatch):
    films = [credited_film(title=f"Lamplighter {n}", overview=f"Keeper number {n} of a lighthouse.") for n in range(12)]
    queryset = Movie.objects.filter(pk__in=[film.pk for film in films])
    calls = []

    class FailingEncoder(FakeEncoder):
        def encode(self, texts, *, batch_size=64):
            calls.append(len(texts))
            if len(calls) == 3:
                raise RuntimeError("the model died")
            return super().encode(texts, batch_size=batch_size)

    monkeypatch.setattr(embedding, "CALL_BATCHES", 1)
    monkeypatch.setattr(embedding, "REBUILD_INDEX_ABOVE", 0)  # the bulk path: both indexes dropped first
    with pytest.raises(RuntimeError, match="the model died"):
        embed_movies(queryset=queryset, encoder=FailingEncoder(), batch_size=2, show_progress=False)
    assert embedding._has_index(VECTOR_INDEX) and embedding._has_index(STORY_INDEX)
    done = queryset.exclude(story_embedding=None).count()
    assert 0 < done < len(films)

    rerun = embed_movies(queryset=queryset, encoder=FakeEncoder(), batch_size=2, show_progress=False)
    assert (rerun.embedded, rerun.unchanged) == (len(films) - done, done)
    assert stale_films(list(queryset.with_details()), FakeEncoder()) == []
