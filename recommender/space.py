"""The film vectors the methods that fit a model (svm, recommendations, personal lists) fit and rank on.

Two ways, chosen by the catalog's size (WHOLE_MATRIX_MAX):
- a small catalog: the whole matrix in memory, loaded once per process and per catalog version (5k films:
  7 MB of float32, a tenth of a second by binary COPY);
- a large one: a *neighbourhood* read from the database per request: the films the HNSW index finds nearest
  the positives (the hard negatives, which decide where the margin goes, and the films worth ranking) plus a
  fixed-size random sample of the rest (the easy negatives), so memory is O(neighbourhood), not O(catalog):
  at 1M films the whole matrix is 1.5 GB per process, a neighbourhood of 5k films 7.7 MB per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import psycopg
import psycopg.adapt
import psycopg.pq
from django.db import connection
from pgvector.psycopg.vector import register_vector_info
from psycopg import sql
from psycopg.types import TypeInfo

from moviesite.db import local_settings
from recommender.encoders import DIMENSIONS, unit_rows
from recommender.models import CatalogVersion

# Up to this many films (the planner's estimate of the film table's rows) the whole matrix is kept in each
# process (12 MB at most); above it, every fit reads a neighbourhood from the database. Measured side by side
# (benchmarks/svm_neighbourhood.py, RESULTS.md issue 16): at 4,803 films the whole matrix answers a film's svm
# list and recommendations faster (one fetch of ~3,000 vectors costs more than a fit saves); at 28,818 the
# neighbourhood is as fast or faster, holds a tenth of the vectors and spares each process its matrix, which
# at 1M films would be 1.5 GB. Quality was the same either way at 4,803 films. 8,000 is also where the whole
# matrix stopped fitting on every film (similar.FULL_FIT_MAX).
WHOLE_MATRIX_MAX = 8000
# A neighbourhood: the NEAR films the index finds nearest the positives' mean, NEAR_EACH nearest each of the
# first NEAR_PROBES positives (tastes spread over several corners of the space), and SAMPLE films drawn at random.
# Chosen on the dev users of benchmarks/personal_quality.py (recall@40 of the personal list at 4,803 films):
# whole matrix 0.220; 1000 nearest the mean 0.205, 2000 0.215, 2000 plus 200 nearest each liked film 0.217.
# The similar films' svm (one positive) scored the same either way (benchmarks/similar_quality.py).
NEAR = 2000
NEAR_EACH = 200
NEAR_PROBES = 10
SAMPLE = 1000
# The HNSW candidate list for those walks. Iterative scans fill any LIMIT whatever this is; but pgvector's cost
# estimate grows with it, and at 29k films ef_search 1000 (or a LIMIT of 4000) made the planner sort the whole
# table instead (100-160 ms against 14-30 ms by the index for 1000-2000 films).
NEAR_EF_SEARCH = 200


# Nearest first by the very expression the HNSW index is built over (catalog.querysets.indexed_embedding: the
# vectors in half precision); ordering by the float32 column instead would read every film's vector.
NEAREST_ORDER = f"embedding::halfvec({DIMENSIONS}) <=> %s::halfvec({DIMENSIONS})"


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
        matrix = unit_rows(matrix)
    return VectorSpace(model=model, version=version, ids=np.asarray(ids, dtype=np.int64), vectors=matrix)


def catalog_size() -> int:
    """About how many films there are: the planner's estimate (pg_class.reltuples), free to read at any size
    where count(*) reads the whole table; 0 for a table never analysed (a new or test database). Read at
    most every SIZE_SECONDS per process: it moves slowly, and reading it on every fit would add a query."""
    global _size
    now = time.monotonic()
    if _size is None or now - _size[0] > SIZE_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'catalog_movie'::regclass")
            _size = (now, max(int(cursor.fetchone()[0]), 0))
    return _size[1]


SIZE_SECONDS = 300
_size: tuple[float, int] | None = None


def uses_whole_matrix() -> bool:
    """Whether the catalog is small enough for every process to hold all its vectors (WHOLE_MATRIX_MAX)."""
    return catalog_size() <= WHOLE_MATRIX_MAX


def neighbourhood(
    model: str,
    probes: list[np.ndarray],
    *,
    include: Iterable[int] = (),
    seed: int = 0,
    near: int | None = None,
    near_each: int | None = None,
    sample: int | None = None,
) -> VectorSpace:
    """The visible films with a `model` vector around `probes` (the first the positives' mean, the others single
    positives), as a VectorSpace in id order: the `near` films nearest the first probe and the `near_each`
    nearest each other one (through the HNSW index), about `sample` films drawn at random (seeded by `seed`,
    so the same positives always see the same sample), and the films of `include` (the positives and
    negatives themselves). One statement, never a scan of every film's vector."""
    near = NEAR if near is None else near
    near_each = NEAR_EACH if near_each is None else near_each
    sample = SAMPLE if sample is None else sample
    low, high = _id_range()
    rng = np.random.default_rng(seed)
    drawn = rng.integers(low, high + 1, size=sample).tolist() if sample and high >= low else []
    visible = "NOT hidden AND embedding IS NOT NULL AND embedding_model = %s"
    parts, params = [], []
    for index, probe in enumerate(probes):
        limit = near if index == 0 else near_each
        if limit:
            parts.append(f"(SELECT id FROM catalog_movie WHERE {visible} ORDER BY {NEAREST_ORDER} LIMIT {int(limit)})")
            params += [model, np.asarray(probe, dtype=np.float32)]
    parts.append("(SELECT unnest(%s::bigint[]))")
    params.append(sorted({*drawn, *(int(pk) for pk in include)}))
    wanted = " UNION ALL ".join(parts)
    query = f"SELECT id, embedding FROM catalog_movie WHERE id IN ({wanted}) AND {visible} ORDER BY id"
    params.append(model)
    # The index walks past ef_search candidates only with iterative scans; the order inside each LIMIT does
    # not matter here (the set is what is fitted), so relaxed order is fine. hnsw.max_scan_tuples (20,000 by
    # default) bounds each walk.
    settings = {"hnsw.ef_search": NEAR_EF_SEARCH, "hnsw.iterative_scan": "relaxed_order"}
    with local_settings(settings), psycopg.Cursor(connection.connection) as cursor:
        # A server-side-binding cursor of Django's own connection (and transaction): Django's cursors bind on
        # the client, which rules out binary results; binary vectors load several times faster than text.
        info = TypeInfo.fetch(cursor.connection, "vector")
        register_vector_info(cursor, info)  # for the probes
        cursor.adapters.register_loader(info.oid, _RawVectorLoader)  # the rows: bytes, parsed in one go below
        cursor.execute(query, params, binary=True)
        rows = cursor.fetchall()
    ids = np.fromiter((pk for pk, _ in rows), dtype=np.int64, count=len(rows))
    matrix = _parse_binary_vectors([raw for _, raw in rows])
    if len(matrix):
        matrix = unit_rows(matrix)
    return VectorSpace(model=model, version=-1, ids=ids, vectors=matrix)  # -1: made for one request, not kept


def _id_range() -> tuple[int, int]:
    """The lowest and highest film id, for drawing random films; read at most every SIZE_SECONDS per process
    (films added since are only missing from the random sample until then)."""
    global _ids
    now = time.monotonic()
    if _ids is None or now - _ids[0] > SIZE_SECONDS:
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM catalog_movie")
            low, high = cursor.fetchone()
        _ids = (now, (int(low), int(high)))
    return _ids[1]


_ids: tuple[float, tuple[int, int]] | None = None


class _RawVectorLoader(psycopg.adapt.Loader):
    """pgvector's binary format as it comes (a 2-byte dimension count, 2 unused bytes, big-endian float32s)."""

    format = psycopg.pq.Format.BINARY

    def load(self, data) -> bytes:
        return bytes(data)


def _parse_binary_vectors(raws: list[bytes]) -> np.ndarray:
    """One float32 matrix from vectors in pgvector's binary format, parsed at once rather than row by row."""
    if not raws:
        return np.zeros((0, 0), dtype=np.float32)
    dimensions = int.from_bytes(raws[0][:2], "big")
    # Each row is its 4-byte header then its floats: read as big-endian float32s, the header is column 0.
    return np.frombuffer(b"".join(raws), dtype=">f4").reshape(len(raws), dimensions + 1)[:, 1:].astype(np.float32)
