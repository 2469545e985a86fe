"""Embedding a large catalog: worker processes that split the films, and OpenAI's Batch API (against a stub)."""

from __future__ import annotations

import email.parser
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from django.db import connection

from catalog.models import Movie
from recommender.bulk_embedding import embed_in_processes, embed_with_openai_batch, shard_of
from recommender.embedding import stale_films
from recommender.encoders import DIMENSIONS, OpenAIEncoder, content_hash


def make_films(count: int) -> list[Movie]:
    return Movie.objects.bulk_create(
        Movie(title=f"Worker Film {i}", year=1990 + i % 30, overview=f"A keeper of lighthouse {i} waits.")
        for i in range(count)
    )


def test_the_shards_of_n_workers_cover_every_film_once(db):
    films = set(Movie.objects.values_list("pk", flat=True))
    shards = [set(shard_of(Movie.objects.all(), k, 3).values_list("pk", flat=True)) for k in range(3)]

    assert set().union(*shards) == films
    assert sum(len(shard) for shard in shards) == len(films)
    assert all(shards)


@pytest.mark.django_db(transaction=True)
def test_workers_split_the_stale_films_and_a_rerun_embeds_nothing(monkeypatch):
    make_films(40)
    monkeypatch.setenv("MOVIESITE_DB_NAME", connection.settings_dict["NAME"])
    monkeypatch.setenv("MOVIESITE_PGDATA", settings.DATABASES["default"].get("PGDATA", ""))
    monkeypatch.setenv("DEBUG", "1")
    total = Movie.objects.count()

    first = embed_in_processes(workers=2, backend="fake", force=False, batch_size=16)
    second = embed_in_processes(workers=2, backend="fake", force=False, batch_size=16)

    assert first.embedded == total
    assert Movie.objects.exclude(embedding_model="fake-hashed-words").count() == 0
    assert (second.embedded, second.unchanged) == (0, total)


class StubBatchAPI(BaseHTTPRequestHandler):
    """OpenAI's files and batches endpoints, enough for one batch: in progress once, then completed."""

    uploads: dict[str, bytes] = {}
    batches: dict[str, dict] = {}
    polls = itertools.count()
    fail_prefix = "-"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/files":
            message = email.parser.BytesParser().parsebytes(
                f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
            )
            upload = next(part for part in message.get_payload() if part.get_filename())
            file_id = f"file-{len(self.uploads)}"
            self.uploads[file_id] = upload.get_payload(decode=True)
            self._send({"id": file_id, "object": "file", "bytes": len(body), "created_at": 0,
                        "filename": upload.get_filename(), "purpose": "batch", "status": "processed"})  # fmt: skip
        elif self.path == "/v1/batches":
            request = json.loads(body)
            batch_id = f"batch-{len(self.batches)}"
            self.batches[batch_id] = {**request, "id": batch_id, "status": "validating"}
            self._send(self._batch(batch_id))

    def do_GET(self) -> None:
        if self.path.startswith("/v1/batches/"):
            batch_id = self.path.rsplit("/", 1)[1]
            batch = self.batches[batch_id]
            if next(self.polls) >= 1:
                batch["status"] = "completed"
                batch["output_file_id"] = self._answer(batch["input_file_id"])
            self._send(self._batch(batch_id))
        elif self.path.endswith("/content"):
            raw = self.uploads[self.path.split("/")[3]]
            self.send_response(200)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    def _answer(self, input_file_id: str) -> str:
        lines = []
        for line in self.uploads[input_file_id].decode().splitlines():
            request = json.loads(line)
            failed = request["custom_id"].startswith(self.fail_prefix)
            vector = [float(len(request["body"]["input"]))] + [1.0] * (request["body"]["dimensions"] - 1)
            data = [{"object": "embedding", "index": 0, "embedding": vector}]
            response = {"status_code": 500 if failed else 200, "body": {"object": "list", "data": data}}
            answer = {"id": "x", "custom_id": request["custom_id"], "response": response, "error": None}
            lines.append(json.dumps(answer))
        file_id = f"file-{len(self.uploads)}"
        self.uploads[file_id] = "\n".join(lines).encode()
        return file_id

    def _batch(self, batch_id: str) -> dict:
        batch = self.batches[batch_id]
        return {"id": batch_id, "object": "batch", "endpoint": batch["endpoint"], "created_at": 0,
                "input_file_id": batch["input_file_id"], "completion_window": batch["completion_window"],
                "status": batch["status"], "output_file_id": batch.get("output_file_id"),
                "metadata": batch.get("metadata")}  # fmt: skip

    def _send(self, payload: dict) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def batch_api(monkeypatch):
    StubBatchAPI.uploads, StubBatchAPI.batches, StubBatchAPI.polls = {}, {}, itertools.count()
    StubBatchAPI.fail_prefix = "-"
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubBatchAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    yield StubBatchAPI
    server.shutdown()


def test_the_batch_api_uploads_polls_and_writes_back_every_answered_film(db, batch_api):
    encoder = OpenAIEncoder("text-embedding-3-small", "sk-test")
    films = make_films(5)
    batch_api.fail_prefix = f"{films[0].pk}:"  # this film's request fails inside the batch
    naps: list[float] = []

    result = embed_with_openai_batch(encoder=encoder, poll_seconds=7, sleep=naps.append)

    uploaded = [json.loads(line) for line in batch_api.uploads["file-0"].decode().splitlines()]
    assert {line["url"] for line in uploaded} == {"/v1/embeddings"}
    assert all(line["body"]["dimensions"] == DIMENSIONS for line in uploaded)
    catalog = list(Movie.objects.with_details())
    # One request per text: a film with credits has a story (no names) apart from its document.
    assert len(uploaded) == sum(2 if film.story() != film.document() else 1 for film in catalog)
    assert naps == [7]  # polled once while in progress
    assert result.embedded == len(catalog) - 1
    films[0].refresh_from_db()
    films[1].refresh_from_db()
    assert films[0].embedding_model != encoder.name  # left stale: the next run asks again
    assert films[1].embedding_model == encoder.name


def test_the_batch_api_writes_a_film_only_when_both_of_its_texts_came_back(db, batch_api):
    encoder = OpenAIEncoder("text-embedding-3-small", "sk-test")
    jaws, godfather = Movie.objects.get(title="Jaws"), Movie.objects.get(title="The Godfather")
    batch_api.fail_prefix = f"{jaws.pk}:story:"  # its document is answered, its story is not

    embed_with_openai_batch(encoder=encoder, poll_seconds=7, sleep=lambda seconds: None)

    jaws.refresh_from_db()
    godfather.refresh_from_db()
    story = Movie.objects.with_details().get(pk=jaws.pk).story()
    assert jaws.embedding_model != encoder.name and jaws.story_hash != content_hash(encoder.name, story)
    assert godfather.embedding_model == encoder.name
    # The stub's vectors start with the text's length: the story (no names) is the shorter text.
    assert godfather.story_embedding is not None and godfather.story_embedding[0] < godfather.embedding[0]
    rerun = [film.movie for film in stale_films([Movie.objects.with_details().get(pk=jaws.pk)], encoder)]
    assert [film.pk for film in rerun] == [jaws.pk]
