"""Computing film vectors: only those missing or stale, batched, sorted by length, committed per batch.

Each film has two vectors (see catalog.models.Movie): its document's (names included; similar films and
recommendations) and its story's (no names; semantic search), the second only when the texts differ. Each has
its own hash, so an edit of the credits re-embeds the document alone and a catalog without credits embeds
each film once. The catalog is read in chunks of films, so memory stays flat at a million films; each batch of
vectors commits on its own, so an interrupted run loses at most one batch and the next run picks up the rest.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TextIO

from django.db import connection, connections, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q

from catalog.models import VECTOR_INDEX, VECTOR_INDEXES, Movie
from moviesite.progress import progress
from recommender.encoders import EmbeddingError, Encoder, content_hash, get_encoder

CHUNK = 5000
CALL_BATCHES = 8
# Writing more vectors than this (and more than the indexes already hold) goes faster by building the HNSW
# indexes once at the end than by inserting into them vector by vector (4,803 vectors: 0.7 s against 2.2 s).
REBUILD_INDEX_ABOVE = 1000


@dataclass
class EmbedResult:
    embedded: int = 0
    unchanged: int = 0
    model: str = ""
    elapsed: float = 0.0
    # Texts given to the model: a film may need two (document and story), one, or none (a story equal to
    # its document only needs its hash written).
    texts: int = 0


@dataclass
class StaleFilm:
    """A film whose vectors need writing: the texts to embed (None for a vector that is fresh, or a story
    that is its document's text) and the hashes to record."""

    movie: Movie
    document: str | None
    digest: str
    story: str | None
    story_digest: str
    story_is_document: bool

    @property
    def requests(self) -> list[tuple[str, str]]:
        """("document" or "story", text) of each text to embed, the document's first."""
        return [(kind, text) for kind, text in (("document", self.document), ("story", self.story)) if text is not None]

    @property
    def texts(self) -> list[str]:
        return [text for _, text in self.requests]


def stale_films(movies: list[Movie], encoder: Encoder, *, force: bool = False) -> list[StaleFilm]:
    """The films whose document vector or story vector is missing or was made from other text or model."""
    stale = []
    for movie in movies:
        document, story = movie.document(), movie.story()
        digest, story_digest = content_hash(encoder.name, document), content_hash(encoder.name, story)
        missing = not _has(movie, "has_embedding", "embedding")
        document_stale = force or missing or movie.embedding_hash != digest or movie.embedding_model != encoder.name
        same = story == document
        story_stale = force or movie.story_hash != story_digest
        if not (story_stale or same):
            # The hash matches, so the vector was written with it; unless someone has cleared it since.
            story_stale = not _has(movie, "has_story", "story_embedding")
        if document_stale or story_stale:
            stale.append(
                StaleFilm(
                    movie=movie,
                    document=document if document_stale else None,
                    digest=digest,
                    story=story if story_stale and not same else None,
                    story_digest=story_digest,
                    story_is_document=same,
                )
            )
    return stale


def _has(movie: Movie, annotation: str, field: str) -> bool:
    """Whether `movie` has a vector in `field`: from `has_vectors()`'s annotation when the query made one (the
    vector itself is then deferred, and reading it would cost a query per film), else from the vector."""
    known = getattr(movie, annotation, None)
    return known if known is not None else getattr(movie, field) is not None


def needs_vectors(model_name: str) -> Q:
    """Films that SQL alone knows need vectors of `model_name`: none yet, another model's, or no story vector
    computed yet (as after the migration that added it). A changed text is found by its hash (`stale_films`)."""
    return Q(embedding__isnull=True) | ~Q(embedding_model=model_name) | Q(story_hash="")


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
    missing = queryset.filter(needs_vectors(encoder.name)).count()
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
                texts = [text for film in batch for text in film.texts]
                vectors = encoder.encode(texts, batch_size=batch_size) if texts else []
                writer.submit(save_vectors, batch, vectors, encoder.name)
                result.embedded += len(batch)
                result.texts += len(texts)
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
        .without_vectors()  # only whether there is one matters here
        .defer("search_vector")
        .annotate(**has_vectors())[:CHUNK]
    )
    todo = stale_films(movies, encoder, force=force)
    # Similar lengths in one batch waste less padding, which is most of a transformer's CPU time.
    todo.sort(key=lambda film: max((len(text) for text in film.texts), default=0))
    return (movies[-1].pk if movies else after), len(movies), todo


def has_vectors() -> dict[str, ExpressionWrapper]:
    """Annotations saying whether a film has each vector, for querysets that defer the vectors themselves."""
    return {
        "has_embedding": ExpressionWrapper(Q(embedding__isnull=False), output_field=BooleanField()),
        "has_story": ExpressionWrapper(Q(story_embedding__isnull=False), output_field=BooleanField()),
    }


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


def save_vectors(batch: list[StaleFilm], vectors, model_name: str) -> None:
    """Write each film's new vectors (`vectors` holds, film by film, the vectors of its `texts`) and hashes in
    one UPDATE per batch: both vectors of a film always come from the same model (search trusts that)."""
    documents, stories = [], []
    rows = iter(vectors)
    for film in batch:
        documents.append(_literal(next(rows)) if film.document is not None else None)
        stories.append(_literal(next(rows)) if film.story is not None else None)
    with transaction.atomic(), connection.cursor() as cursor:
        # A NULL vector keeps the one there (fresh); a story that is its document's text has no vector.
        cursor.execute(
            f"UPDATE {Movie._meta.db_table} AS m SET embedding = COALESCE(u.v::vector, m.embedding),"
            " embedding_model = %s, embedding_hash = u.h,"
            " story_embedding = CASE WHEN u.same THEN NULL ELSE COALESCE(u.s::vector, m.story_embedding) END,"
            " story_hash = u.sh"
            " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::boolean[], %s::text[])"
            " AS u(id, v, h, s, same, sh) WHERE m.id = u.id",
            [
                model_name,
                [film.movie.pk for film in batch],
                documents,
                [film.digest for film in batch],
                stories,
                [film.story_is_document for film in batch],
                [film.story_digest for film in batch],
            ],
        )


def _literal(vector) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector) + "]"


def bulk_write(missing: int, encoder: Encoder) -> bool:
    """Whether writing `missing` films' vectors goes faster with the HNSW indexes dropped and built once at the
    end. Rewriting a row inserts it into both indexes, whichever vector changed."""
    return missing > REBUILD_INDEX_ABOVE and missing > _vectors_of(encoder.name)


def _vectors_of(model_name: str) -> int:
    return Movie.objects.filter(embedding__isnull=False, embedding_model=model_name).exclude(story_hash="").count()


@contextlib.contextmanager
def vector_index_rebuilt_if(bulk: bool):
    """For a bulk write, drop the HNSW indexes first and build them once afterwards (also after a failure, and
    whenever an earlier interrupted run left one missing). Searches still work meanwhile, by exact scan."""
    indexes = [index for index in Movie._meta.indexes if index.name in VECTOR_INDEXES]
    if bulk:
        for index in indexes:
            if _has_index(index.name):
                with connection.schema_editor() as editor:
                    editor.remove_index(Movie, index)
    try:
        yield
    finally:
        for index in indexes:
            if not _has_index(index.name):
                with connection.schema_editor() as editor:
                    editor.add_index(Movie, index)


def _has_index(name: str = VECTOR_INDEX) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        return cursor.fetchone() is not None
