"""Computing film vectors: only those missing or stale, batched, sorted by length, committed per batch.

The catalog is read in chunks of films, so memory stays flat at a million films; each batch of vectors
commits on its own, so an interrupted run loses at most one batch and the next run picks up the rest.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TextIO

from django.db import connection, connections, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q

from catalog.models import VECTOR_INDEX, Movie
from moviesite.progress import progress
from recommender.encoders import EmbeddingError, Encoder, content_hash, get_encoder

CHUNK = 5000
CALL_BATCHES = 8
# Writing more vectors than this (and more than the index already holds) goes faster by building the HNSW
# index once at the end than by inserting into it vector by vector (4,803 vectors: 0.7 s against 2.2 s).
REBUILD_INDEX_ABOVE = 1000


@dataclass
class EmbedResult:
    embedded: int = 0
    unchanged: int = 0
    model: str = ""
    elapsed: float = 0.0


def stale_films(movies: list[Movie], encoder: Encoder, *, force: bool = False) -> list[tuple[Movie, str, str]]:
    """(film, document, hash) for each film whose vector is missing or was made from other text or model."""
    stale = []
    for movie in movies:
        document = movie.document()
        digest = content_hash(encoder.name, document)
        missing = not getattr(movie, "has_embedding", movie.embedding is not None)
        if force or missing or movie.embedding_hash != digest or movie.embedding_model != encoder.name:
            stale.append((movie, document, digest))
    return stale


def vector_state(movie: Movie, encoder: Encoder | None) -> str:
    """'missing', 'fresh', 'stale' (made from other text or by another model), or 'unknown' (no usable
    encoder to compare with)."""
    if not getattr(movie, "has_embedding", bool(movie.embedding_model)):
        return "missing"
    if encoder is None:
        return "unknown"
    return "stale" if stale_films([movie], encoder) else "fresh"


def configured_encoder() -> Encoder | None:
    """The configured embedding backend, or None when it cannot be used (e.g. OpenAI without a key)."""
    try:
        return get_encoder()
    except EmbeddingError:
        return None


def embed_movies(
    *,
    queryset=None,
    encoder: Encoder | None = None,
    force: bool = False,
    batch_size: int = 64,
    stdout: TextIO | None = None,
    show_progress: bool = True,
    manage_index: bool = True,
) -> EmbedResult:
    """Embed the films of `queryset` (default: all) whose vector is missing or stale, or all with `force`.

    The model's time is the whole cost, so nothing else waits on it: one thread reads the next chunk of films
    and builds their texts, another writes the vectors of the last batch, while the model encodes. Without
    `manage_index` the HNSW index is left as it is (the parent of parallel workers drops and builds it).
    """
    started = time.monotonic()
    encoder = encoder or get_encoder()
    queryset = queryset if queryset is not None else Movie.objects.all()
    total = queryset.count()
    result = EmbedResult(model=encoder.name)
    bar = progress(total=total, desc=f"Embedding ({encoder.name})", file=stdout, enabled=show_progress and total > 0)
    missing = queryset.filter(Q(embedding__isnull=True) | ~Q(embedding_model=encoder.name)).count()
    # Other connections cannot see a transaction's uncommitted films (tests, callers' atomic blocks).
    threaded = not connection.in_atomic_block
    with (
        vector_index_rebuilt_if(bulk_write(missing, encoder)) if manage_index else contextlib.nullcontext(),
        _Worker(threaded) as reader,
        _Worker(threaded) as writer,
    ):
        upcoming = reader.submit(stale_chunk, queryset, 0, encoder, force)
        while True:
            last_pk, films, todo = upcoming.result()
            if not films:
                break
            upcoming = reader.submit(stale_chunk, queryset, last_pk, encoder, force)
            result.unchanged += films - len(todo)
            bar.update(films - len(todo))
            # Each call to the model costs a little on top of its batches: hand it several batches at once.
            group = batch_size * CALL_BATCHES
            for start in range(0, len(todo), group):
                batch = todo[start : start + group]
                vectors = encoder.encode([document for _, document, _ in batch], batch_size=batch_size)
                writer.submit(save_vectors, batch, vectors, encoder.name)
                result.embedded += len(batch)
                bar.update(len(batch))
    bar.close()
    result.elapsed = time.monotonic() - started
    return result


def stale_chunk(queryset, after: int, encoder: Encoder, force: bool) -> tuple[int, int, list]:
    """(last id, films read, stale films sorted by text length) for the next CHUNK films after `after`."""
    movies = list(
        queryset.order_by("pk")
        .filter(pk__gt=after)
        .with_details()
        .defer("search_vector", "embedding")  # only whether there is one matters here
        .annotate(has_embedding=ExpressionWrapper(Q(embedding__isnull=False), output_field=BooleanField()))[:CHUNK]
    )
    todo = stale_films(movies, encoder, force=force)
    # Similar lengths in one batch waste less padding, which is most of a transformer's CPU time.
    todo.sort(key=lambda item: len(item[1]))
    return (movies[-1].pk if movies else after), len(movies), todo


class _Worker:
    """Runs calls in order on one thread with its own database connection, or inline when not `threaded`.

    Leaving the block waits for every call and re-raises the first failure.
    """

    def __init__(self, threaded: bool) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1) if threaded else None
        self._pending: list[Future] = []

    def submit(self, function, *args) -> Future:
        for done in [future for future in self._pending if future.done()]:
            done.result()  # a failed call stops the work now, not at the end
            self._pending.remove(done)
        if self._pool is None:
            future: Future = Future()
            future.set_result(function(*args))
            return future
        future = self._pool.submit(function, *args)
        self._pending.append(future)
        return future

    def __enter__(self) -> _Worker:
        return self

    def __exit__(self, *exc_info) -> None:
        if self._pool is None:
            return
        try:
            for future in self._pending:
                future.result()
        finally:
            self._pool.submit(connections.close_all).result()
            self._pool.shutdown()


def save_vectors(batch: list[tuple[Movie, str, str]], vectors, model_name: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Movie._meta.db_table} AS m SET embedding = u.v::vector, embedding_model = %s,"
            " embedding_hash = u.h FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS u(id, v, h)"
            " WHERE m.id = u.id",
            [
                model_name,
                [movie.pk for movie, _, _ in batch],
                ["[" + ",".join(f"{x:.7g}" for x in vector) + "]" for vector in vectors],
                [digest for _, _, digest in batch],
            ],
        )


def bulk_write(missing: int, encoder: Encoder) -> bool:
    """Whether writing `missing` vectors goes faster with the HNSW index dropped and built once at the end."""
    return missing > REBUILD_INDEX_ABOVE and missing > _vectors_of(encoder.name)


def _vectors_of(model_name: str) -> int:
    return Movie.objects.filter(embedding__isnull=False, embedding_model=model_name).count()


@contextlib.contextmanager
def vector_index_rebuilt_if(bulk: bool):
    """For a bulk write, drop the HNSW index first and build it once afterwards (also after a failure, and
    whenever an earlier interrupted run left it missing). Searches still work meanwhile, by exact scan."""
    index = next(index for index in Movie._meta.indexes if index.name == VECTOR_INDEX)
    if bulk and _has_index():
        with connection.schema_editor() as editor:
            editor.remove_index(Movie, index)
    try:
        yield
    finally:
        if not _has_index():
            with connection.schema_editor() as editor:
                editor.add_index(Movie, index)


def _has_index() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [VECTOR_INDEX])
        return cursor.fetchone() is not None
