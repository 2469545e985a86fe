"""The OpenAI backend through the real `openai` client, against a stub server on loopback (never the service)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from recommender.encoders import DIMENSIONS, EmbeddingError, OpenAIEncoder


class StubOpenAI(BaseHTTPRequestHandler):
    """Answers POST /v1/embeddings like the service: one vector per input; the first call is rate limited."""

    requests: list[dict] = []
    rate_limit_first = True

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        if type(self).rate_limit_first:
            type(self).rate_limit_first = False
            self._send(429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"retry-after": "0"})
            return
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), *[1.0] * (body["dimensions"] - 1)]}
            for i, text in enumerate(body["input"])
        ]
        self._send(200, {"object": "list", "data": data[::-1], "model": body["model"], "usage": {}})

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def stub_server(monkeypatch):
    StubOpenAI.requests, StubOpenAI.rate_limit_first = [], True
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    yield StubOpenAI
    server.shutdown()


def test_it_embeds_in_batches_in_input_order_and_retries_a_429(stub_server):
    encoder = OpenAIEncoder("text-embedding-3-small", "sk-test")
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    vectors = encoder.encode(texts, batch_size=2)
    assert vectors.shape == (5, DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    # The first component encodes each input's length, so the order survived the shuffled response.
    assert list(np.argsort(vectors[:, 0])) == [0, 1, 2, 3, 4]
    posts = stub_server.requests
    assert len(posts) == 4  # one rate-limited, then three batches of at most two
    assert [len(p["input"]) for p in posts[1:]] == [2, 2, 1]
    assert all(p["path"] == "/v1/embeddings" and p["auth"] == "Bearer sk-test" for p in posts)
    assert all(p["model"] == "text-embedding-3-small" and p["dimensions"] == DIMENSIONS for p in posts)
    assert encoder.name == "openai/text-embedding-3-small@384"


def test_requests_stay_within_the_input_and_token_limits():
    encoder = OpenAIEncoder("text-embedding-3-small", "sk-test")
    many_short = encoder.requests(["short text"] * 5000, batch_size=5000)
    assert [len(chunk) for chunk in many_short] == [2048, 2048, 904]
    long_texts = ["x" * 300_000] * 7  # ~100k tokens each by our count
    assert [len(chunk) for chunk in encoder.requests(long_texts, batch_size=64)] == [2, 2, 2, 1]


def test_a_missing_key_or_a_fixed_dimension_model_is_a_clear_error():
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        OpenAIEncoder("text-embedding-3-small", "")
    with pytest.raises(EmbeddingError, match="1536-dimension"):
        OpenAIEncoder("text-embedding-ada-002", "sk-test")
