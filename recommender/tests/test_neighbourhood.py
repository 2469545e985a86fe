"""svm, recommendations and personal lists on a large catalog (issue 16): fitted on a neighbourhood read from
the database (the positives' nearest films by the HNSW index plus a random sample), never on a matrix of every
film's vector. The demo catalog stands in for a large one with the thresholds scaled down."""

from __future__ import annotations

import re

import numpy as np
import psycopg
import pytest
from django.db import connection

from catalog.models import VECTOR_INDEX, Movie
from recommender import personal, space
from recommender.similar import recommend, similar_films
from recommender.space import neighbourhood, vector_space

pytestmark = pytest.mark.django_db

NEAR, SAMPLE = 60, 20


@pytest.fixture
def large_catalog(monkeypatch):
    """Every fit reads a neighbourhood, a fifth of the demo catalog's films, as it would at a million films."""
    monkeypatch.setattr(space, "WHOLE_MATRIX_MAX", -1)
    monkeypatch.setattr(space, "NEAR", NEAR)
    monkeypatch.setattr(space, "SAMPLE", SAMPLE)


@pytest.fixture
def statements(monkeypatch):
    """Every statement sent to the database, through Django's cursors or straight through psycopg's."""
    sent: list[str] = []
    execute, copy = psycopg.Cursor.execute, psycopg.Cursor.copy

    def text(cursor, query) -> str:
        return query if isinstance(query, str) else query.as_string(cursor)

    def recording_execute(cursor, query, *args, **kwargs):
        sent.append(text(cursor, query))
        return execute(cursor, query, *args, **kwargs)

    def recording_copy(cursor, statement, *args, **kwargs):
        sent.append(text(cursor, statement))
        return copy(cursor, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording_execute)
    monkeypatch.setattr(psycopg.Cursor, "copy", recording_copy)
    return sent


def film(title: str) -> Movie:
    return Movie.objects.with_details().get(title=title)


def pks(movies: list[Movie]) -> list[int]:
    return [movie.pk for movie in movies]


def reads_every_vector(statement: str) -> bool:
    """Whether a statement selects films' vectors without a bound: no LIMIT and no list of ids."""
    selects_vectors = re.search(r"SELECT .*\bembedding\b.* FROM .*catalog_movie", statement, re.S | re.I)
    bounded = re.search(r"\bLIMIT\b|\bIN \(|= ANY\(|unnest\(", statement, re.I)
    return bool(selects_vectors) and not bounded


def test_a_neighbourhood_is_the_nearest_films_a_seeded_sample_and_the_given_films_and_no_more():
    seed, other = film("Alien"), film("Jaws")
    found = neighbourhood(seed.embedding_model, [seed.embedding], include=[other.pk], seed=3, near=NEAR, sample=SAMPLE)
    assert len(found.ids) <= NEAR + SAMPLE + 1
    assert list(found.ids) == sorted(found.ids)
    assert {seed.pk, other.pk} <= set(found.ids.tolist())
    assert np.allclose(np.linalg.norm(found.vectors, axis=1), 1.0, atol=1e-5)
    whole = vector_space(seed.embedding_model)
    nearest = whole.ids[np.argsort(-(whole.vectors @ whole.vectors[whole.rows_of([seed.pk])[0]]))[:NEAR]]
    assert len(set(nearest.tolist()) & set(found.ids.tolist())) >= 0.9 * NEAR
    again = neighbourhood(seed.embedding_model, [seed.embedding], include=[other.pk], seed=3, near=NEAR, sample=SAMPLE)
    assert again.ids.tolist() == found.ids.tolist()


def test_a_neighbourhood_never_holds_a_hidden_film():
    seed = film("Alien")
    hidden = pks(similar_films(seed, method="knn", limit=3))
    Movie.objects.filter(pk__in=hidden).update(hidden=True)
    found = neighbourhood(seed.embedding_model, [seed.embedding], include=hidden, near=NEAR, sample=SAMPLE)
    assert not set(hidden) & set(found.ids.tolist())


def test_svm_on_a_neighbourhood_leaves_out_the_seed_and_hidden_films_and_agrees_with_the_whole_matrix(
    large_catalog, monkeypatch
):
    seed = film("The Godfather")
    with monkeypatch.context() as small:
        small.setattr(space, "WHOLE_MATRIX_MAX", 10**9)
        whole = similar_films(seed, method="svm", limit=20, prior=0.0)
    found = similar_films(seed, method="svm", limit=20, prior=0.0)
    assert seed.pk not in pks(found)
    assert len(found) == 20
    assert "The Godfather Part II" in [movie.title for movie in found[:3]]
    assert len(set(pks(whole)) & set(pks(found))) >= 14
    Movie.objects.filter(pk=found[0].pk).update(hidden=True)
    assert found[0].pk not in pks(similar_films(seed, method="svm", limit=40, prior=0.0))


def test_the_same_film_gets_the_same_svm_list_from_its_neighbourhood(large_catalog):
    seed = film("Heat")
    first = similar_films(seed, method="svm", limit=40, C=0.100001)  # not the kept list: computed each time
    assert pks(similar_films(seed, method="svm", limit=40, C=0.100001)) == pks(first)


def test_recommendations_on_neighbourhoods_leave_out_liked_and_disliked_films(large_catalog):
    liked = [film(title).pk for title in ("Alien", "The Terminator", "Blade Runner")]
    plain = recommend(liked=liked, limit=20)
    assert len(plain) == 20
    assert not set(pks(plain)) & set(liked)
    assert sum("Science Fiction" in movie.why["genres"] for movie in plain[:10]) >= 6
    results = recommend(liked=liked, disliked=[plain[0].pk], limit=20)
    assert plain[0].pk not in pks(results)
    assert pks(recommend(liked=liked, disliked=[plain[0].pk], limit=20)) == pks(results)


def test_a_personal_list_on_a_neighbourhood_never_holds_a_rated_or_hidden_film(large_catalog):
    liked = {film(title).pk: 2.0 for title in ("The Godfather", "Goodfellas", "Heat")}
    disliked = {film("Jaws").pk: 1.5}
    taste = personal.Taste(liked=liked, disliked=disliked, rated=frozenset([*liked, *disliked]))
    first = personal._recommend(taste, limit=30)
    assert len(first) == 30
    assert not set(pks(first)) & taste.rated
    Movie.objects.filter(pk=first[0].pk).update(hidden=True)
    assert first[0].pk not in pks(personal._recommend(taste, limit=30))


def test_no_statement_reads_every_films_vector_on_a_large_catalog(large_catalog, statements, monkeypatch):
    def no_whole_matrix(*args, **kwargs):
        raise AssertionError("the whole matrix was loaded")

    monkeypatch.setattr(space, "_load", no_whole_matrix)
    space._spaces.clear()
    seed = film("Alien")
    taste = personal.Taste(liked={seed.pk: 2.0, film("Heat").pk: 1.0}, disliked={}, rated=frozenset([seed.pk]))
    statements.clear()
    assert similar_films(seed, method="svm", limit=10, C=0.100001)
    assert recommend(liked=[seed.pk, film("The Terminator").pk], limit=10)
    assert personal._recommend(taste, limit=10)
    assert any(f"ORDER BY {space.NEAREST_ORDER}" in statement for statement in statements)  # the index was asked
    assert [statement for statement in statements if reads_every_vector(statement)] == []


def test_a_small_catalog_keeps_the_whole_matrix(monkeypatch):
    monkeypatch.setattr(space, "catalog_size", lambda: space.WHOLE_MATRIX_MAX)
    assert space.uses_whole_matrix()
    monkeypatch.setattr(space, "catalog_size", lambda: space.WHOLE_MATRIX_MAX + 1)
    assert not space.uses_whole_matrix()


def test_a_neighbourhoods_nearest_films_are_found_through_the_vector_index():
    probe = "[" + ",".join(["0.05"] * 384) + "]"
    query = f"EXPLAIN SELECT id FROM catalog_movie ORDER BY {space.NEAREST_ORDER} LIMIT 5"
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a small catalog: the planner would rather read it all
        cursor.execute(query, [probe])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {VECTOR_INDEX}" in plan
