"""Embedding a large catalog: several processes, each with its own model, or OpenAI's Batch API.

Both write through the primary in batches that commit on their own, and both only embed what is missing or
stale, so a run that is interrupted is finished by running it again.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

import numpy as np
from django.conf import settings
from django.db.models import F, QuerySet

from catalog.models import Movie
from recommender.embedding import (
    EmbedResult,
    StaleFilm,
    bulk_write,
    needs_vectors,
    save_vectors,
    stale_chunk,
    vector_index_rebuilt_if,
)
from recommender.encoders import DIMENSIONS, EmbeddingError, Encoder, OpenAIEncoder, unit_rows

# OpenAI's Batch API takes at most 50,000 requests per input file.
BATCH_API_MAX_REQUESTS = 50_000
BATCH_API_FINAL = {"completed", "failed", "expired", "cancelled"}


def shard_of(queryset: QuerySet[Movie], shard: int, shards: int) -> QuerySet[Movie]:
    """The films of one worker out of `shards`: ids that leave remainder `shard` (even at any id range)."""
    return queryset.alias(shard_key=F("pk") % shards).filter(shard_key=shard)


@dataclass
class WorkerRun:
    shard: int
    process: subprocess.Popen
    log: io.TextIOBase


def embed_in_processes(
    *, workers: int, backend: str | None, force: bool, batch_size: int, stdout: TextIO | None = None
) -> EmbedResult:
    """Split the stale films among `workers` processes (`embed_movies --shard K/N`), each with its own model.

    The parent drops the HNSW index before a bulk write and builds it once when every worker is done; each
    worker's torch gets an equal share of the cores, so N workers never ask for more threads than there are.
    """
    from recommender.encoders import get_encoder

    started = time.monotonic()
    encoder = get_encoder(backend)
    missing = Movie.objects.filter(needs_vectors(encoder.name)).count()
    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    result = EmbedResult(model=encoder.name)
    with vector_index_rebuilt_if(bulk_write(missing, encoder)):
        runs = [_start_worker(shard, workers, backend, force, batch_size, env) for shard in range(workers)]
        failures = []
        for run in runs:
            code = run.process.wait()
            run.log.seek(0)
            output = run.log.read()
            if code != 0:
                last_line = output.strip().splitlines()[-1] if output.strip() else f"exit status {code}"
                failures.append(f"worker {run.shard}: {last_line}")
                continue
            run.log.close()
            counts = json.loads(output.strip().splitlines()[-1])
            result.embedded += counts["embedded"]
            result.unchanged += counts["unchanged"]
            result.texts += counts["texts"]
            if stdout:
                stdout.write(f"worker {run.shard}/{workers}: {counts['embedded']} embedded\n")
        if failures:
            raise EmbeddingError("Some embedding workers failed (run again to finish): " + "; ".join(failures))
    result.elapsed = time.monotonic() - started
    return result


def _start_worker(shard: int, shards: int, backend: str | None, force: bool, batch_size: int, env) -> WorkerRun:
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "embed_movies", "--shard", f"{shard}/{shards}"]
    command += ["--batch-size", str(batch_size), "--json"]
    if backend:
        command += ["--backend", backend]
    if force:
        command.append("--force")
    log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed with the run)
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    return WorkerRun(shard, process, log)


def stale_documents(encoder: Encoder, *, force: bool = False) -> list[StaleFilm]:
    """Every film whose vectors are missing or stale, read chunk by chunk."""
    todo, after = [], 0
    while True:
        after, films, stale = stale_chunk(Movie.objects.all(), after, encoder, force)
        if not films:
            return todo
        todo.extend(stale)


def embed_with_openai_batch(
    *,
    encoder: OpenAIEncoder,
    force: bool = False,
    poll_seconds: float = 30.0,
    timeout_hours: float = 24.0,
    stdout: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> EmbedResult:
    """Embed stale films through OpenAI's Batch API: upload JSONL files, poll, write the vectors back.

    Half the price of the synchronous API and no rate limits to pace, at the cost of waiting (up to 24 h).
    Each request carries one text of one film (its document or its story), its `custom_id` the film's id,
    which text, and the hash of the film's texts, so vectors are written only if the film still has those
    texts when the batch comes back, and only when both of its texts came back.
    """
    started = time.monotonic()
    client = encoder.client
    todo = stale_documents(encoder, force=force)
    result = EmbedResult(model=encoder.name)
    by_key = {
        f"{film.movie.pk}:{kind}:{film.digest}:{film.story_digest}": (film, text)
        for film in todo
        for kind, text in film.requests
    }
    result.texts = len(by_key)
    hash_only = [film for film in todo if not film.texts]  # a story equal to its fresh document: no request
    if hash_only:
        save_vectors(hash_only, [], encoder.name)
        result.embedded += len(hash_only)
    batch_ids = []
    for keys in _request_files(list(by_key)):
        lines = [
            json.dumps({
                "custom_id": key,
                "method": "POST",
                "url": "/v1/embeddings",
                "body": {"model": encoder.model, "input": by_key[key][1] or " ", "dimensions": DIMENSIONS},
            })
            for key in keys
        ]  # fmt: skip
        upload = client.files.create(file=("moviesite-embeddings.jsonl", "\n".join(lines).encode()), purpose="batch")
        batch = client.batches.create(
            input_file_id=upload.id,
            endpoint="/v1/embeddings",
            completion_window="24h",
            metadata={"moviesite": encoder.name},
        )
        batch_ids.append(batch.id)
        if stdout:
            stdout.write(f"OpenAI batch {batch.id}: {len(lines)} films submitted\n")

    deadline = time.monotonic() + timeout_hours * 3600
    for batch_id in batch_ids:
        batch = client.batches.retrieve(batch_id)
        while batch.status not in BATCH_API_FINAL:
            if time.monotonic() > deadline:
                raise EmbeddingError(f"OpenAI batch {batch_id} is still {batch.status}; run again later.")
            sleep(poll_seconds)
            batch = client.batches.retrieve(batch_id)
        if batch.status != "completed" or not batch.output_file_id:
            raise EmbeddingError(f"OpenAI batch {batch_id} ended {batch.status}; run again to resubmit its films.")
        result.embedded += _write_batch_output(client.files.content(batch.output_file_id).text, by_key, encoder)
    result.elapsed = time.monotonic() - started
    return result


def _request_files(keys: list[str]) -> list[list[str]]:
    """The requests in files of at most BATCH_API_MAX_REQUESTS, a film's two requests always in one file (a
    film is written from one file's answers)."""
    files: list[list[str]] = [[]]
    for key in keys:
        film_of = key.partition(":")[0]
        starts_film = not files[-1] or files[-1][-1].partition(":")[0] != film_of
        if starts_film and len(files[-1]) >= BATCH_API_MAX_REQUESTS - 1:
            files.append([])
        files[-1].append(key)
    return [keys for keys in files if keys]


def _write_batch_output(text: str, by_key: dict[str, tuple[StaleFilm, str]], encoder: Encoder) -> int:
    answers: dict[int, dict[str, list[float]]] = {}
    films: dict[int, StaleFilm] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        answer = json.loads(line)
        response = answer.get("response") or {}
        if answer.get("error") or response.get("status_code") != 200 or answer.get("custom_id") not in by_key:
            continue  # a failed request leaves its film stale: the next run asks again
        film, _ = by_key[answer["custom_id"]]
        kind = answer["custom_id"].split(":")[1]
        films[film.movie.pk] = film
        answers.setdefault(film.movie.pk, {})[kind] = response["body"]["data"][0]["embedding"]
    # A film is written only with every vector it asked for, so its two vectors are of one run.
    rows = [film for pk, film in films.items() if len(answers[pk]) == len(film.texts)]
    vectors = [answers[film.movie.pk][kind] for film in rows for kind, _ in film.requests]
    if not rows:
        return 0
    array = unit_rows(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), DIMENSIONS))
    written, start = 0, 0
    for first in range(0, len(rows), 1000):
        chunk = rows[first : first + 1000]
        count = sum(len(film.texts) for film in chunk)
        save_vectors(chunk, array[start : start + count], encoder.name)
        written, start = written + len(chunk), start + count
    return written
