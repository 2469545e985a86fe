"""Computing film vectors: only those missing or stale, batched, sorted by length, committed per batch."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TextIO

from django.db import transaction

from catalog.models import Movie
from moviesite.progress import progress
from recommender.encoders import Encoder, content_hash, get_encoder


@dataclass
class EmbedResult:
    embedded: int = 0
    unchanged: int = 0
    model: str = ""
    elapsed: float = 0.0


def stale_films(movies: list[Movie], encoder: Encoder) -> list[tuple[Movie, str, str]]:
    """(film, document, hash) for each film whose vector is missing or was made from other text or model."""
    stale = []
    for movie in movies:
        document = movie.document()
        digest = content_hash(encoder.name, document)
        if movie.embedding is None or movie.embedding_hash != digest:
            stale.append((movie, document, digest))
    return stale


def embed_movies(
    *,
    queryset=None,
    encoder: Encoder | None = None,
    force: bool = False,
    batch_size: int = 64,
    stdout: TextIO | None = None,
    show_progress: bool = True,
) -> EmbedResult:
    """Embed the films of `queryset` (default: all) whose vector is missing or stale, or all with `force`."""
    started = time.monotonic()
    encoder = encoder or get_encoder()
    movies = list((queryset if queryset is not None else Movie.objects.all()).order_by("pk").with_credits()
                  .prefetch_related("keywords"))  # fmt: skip
    if force:
        todo = [(movie, movie.document(), "") for movie in movies]
        todo = [(movie, document, content_hash(encoder.name, document)) for movie, document, _ in todo]
    else:
        todo = stale_films(movies, encoder)
    # Similar lengths in one batch waste less padding, which is most of a transformer's CPU time.
    todo.sort(key=lambda item: len(item[1]))
    bar = progress(total=len(todo), desc="Embedding", file=stdout, enabled=show_progress and bool(todo))
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        vectors = encoder.encode([document for _, document, _ in chunk], batch_size=batch_size)
        with transaction.atomic():
            for (movie, _, digest), vector in zip(chunk, vectors, strict=True):
                movie.embedding, movie.embedding_model, movie.embedding_hash = vector, encoder.name, digest
            Movie.objects.bulk_update(
                [movie for movie, _, _ in chunk], ["embedding", "embedding_model", "embedding_hash"]
            )
        bar.update(len(chunk))
    bar.close()
    return EmbedResult(
        embedded=len(todo),
        unchanged=len(movies) - len(todo),
        model=encoder.name,
        elapsed=time.monotonic() - started,
    )
