"""The catalog's film vectors as one in-memory matrix, for the methods that fit a model on all of them (svm,
recommendations). Loaded once per process and per catalog version: 34k films take about half a second by
binary COPY, 52 MB of float32."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from django.db import connection
from pgvector.psycopg.vector import register_vector_info
from psycopg import sql
from psycopg.types import TypeInfo

from recommender.models import CatalogVersion


def catalog_version() -> int:
    """How many statements have changed the film table so far (see CatalogVersion)."""
    return CatalogVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


@dataclass(frozen=True)
class VectorSpace:
    """The visible films that have a vector from `model`: their ids and unit-length vectors, row by row."""

    model: str
    version: int
    ids: np.ndarray
    vectors: np.ndarray

    def rows_of(self, movie_ids: list[int]) -> np.ndarray:
        """The matrix rows of those films (films not in the space are left out)."""
        return np.flatnonzero(np.isin(self.ids, movie_ids))


_spaces: dict[str, VectorSpace] = {}
_lock = threading.Lock()


def vector_space(model: str) -> VectorSpace:
    """The current space of `model`'s vectors, reloaded when the catalog has changed since it was loaded."""
    version = catalog_version()
    space = _spaces.get(model)
    if space is not None and space.version == version:
        return space
    with _lock:  # one thread loads; the others wait for it rather than load the same rows again
        space = _spaces.get(model)
        if space is None or space.version != version:
            space = _spaces[model] = _load(model, version)
    return space


def _load(model: str, version: int) -> VectorSpace:
    ids, vectors = [], []
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        # The vector type's binary loader on this cursor only, so Django's own reads are unchanged.
        register_vector_info(cursor, TypeInfo.fetch(cursor.connection, "vector"))
        query = (
            "COPY (SELECT id, embedding FROM catalog_movie WHERE NOT hidden AND embedding IS NOT NULL"
            " AND embedding_model = {} ORDER BY id) TO STDOUT (FORMAT BINARY)"
        )
        with cursor.copy(sql.SQL(query).format(sql.Literal(model))) as copy:
            copy.set_types(["int8", "vector"])
            for pk, vector in copy.rows():
                ids.append(pk)
                vectors.append(vector.to_numpy())
    matrix = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, 0), dtype=np.float32)
    if len(matrix):
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return VectorSpace(model=model, version=version, ids=np.asarray(ids, dtype=np.int64), vectors=matrix)
