"""The HNSW index holds the film vectors in half precision, and the nearest-films query walks it (issue 16)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import VECTOR_INDEX, Movie
from catalog.tests.helpers import make_movie

pytestmark = pytest.mark.django_db


def _films() -> list[Movie]:
    overviews = ["A painter repaints a lighthouse.", "Sailors race a storm home.", "A baker opens at dawn."]
    return [make_movie(title=f"Film {n}", overview=text, embed_with="fake") for n, text in enumerate(overviews)]


def test_the_vector_index_is_built_over_half_precision_vectors():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [VECTOR_INDEX])
        definition = cursor.fetchone()[0]
    assert "USING hnsw" in definition
    assert "halfvec(384)" in definition and "halfvec_cosine_ops" in definition


def test_the_nearest_films_query_is_answered_by_the_vector_index():
    films = _films()
    with CaptureQueriesContext(connection) as queries:
        Movie.objects.nearest(films[0].embedding, model=films[0].embedding_model, limit=2)
    [sql] = [query["sql"] for query in queries.captured_queries if "<=>" in query["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # three films: the planner would rather read them all
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {VECTOR_INDEX}" in plan


def test_the_nearest_films_keep_their_order_and_cosine_in_half_precision():
    films = _films()
    found = Movie.objects.nearest(films[0].embedding, model=films[0].embedding_model, limit=3, fields=("pk",))
    assert found[0][0] == films[0].pk
    assert found[0][1] == pytest.approx(1.0, abs=1e-3)  # halfvec keeps ~3 significant digits
    assert [similarity for _, similarity in found] == sorted((s for _, s in found), reverse=True)
