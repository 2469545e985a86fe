from __future__ import annotations

import numpy as np
import pytest

from recommender.encoders import EmbeddingError, FakeEncoder, content_hash, encode_query, get_encoder


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_the_fake_encoder_is_deterministic_normalised_and_word_based():
    encoder = FakeEncoder()
    first, again, other = encoder.encode(["a comet over the sea", "a comet over the sea", "tax law seminar"])
    assert first.shape == (384,)
    assert np.allclose(first, again)
    assert np.linalg.norm(first) == pytest.approx(1.0)
    assert cosine(first, encoder.encode(["comet sea"])[0]) > cosine(first, other)


def test_the_local_model_loads_offline_and_places_paraphrases_close():
    encoder = get_encoder("local")
    shark, paraphrase, unrelated = encoder.encode(
        [
            "A great white shark terrorizes a seaside resort town.",
            "A killer fish attacks swimmers at a beach.",
            "Two lawyers argue about a tax code.",
        ]
    )
    assert encoder.name == "all-MiniLM-L6-v2" and shark.shape == (384,)
    assert cosine(shark, paraphrase) > cosine(shark, unrelated) + 0.2


def test_query_vectors_are_cached(settings):
    settings.EMBEDDING_BACKEND = "fake"
    assert encode_query("repeat me") == encode_query("repeat me")
    from recommender.encoders import _cached_query_vector

    hits_before = _cached_query_vector.cache_info().hits
    encode_query("repeat me")
    assert _cached_query_vector.cache_info().hits == hits_before + 1


def test_misconfigured_backends_are_clear_errors(settings):
    settings.OPENAI_API_KEY = ""
    with pytest.raises(EmbeddingError, match="OPENAI_API_KEY"):
        get_encoder("openai")
    with pytest.raises(EmbeddingError, match="Unknown EMBEDDING_BACKEND 'nope'"):
        get_encoder("nope")


def test_content_hash_depends_on_model_and_text():
    assert content_hash("m", "text") == content_hash("m", "text")
    assert content_hash("m", "text") != content_hash("n", "text")
    assert content_hash("m", "text") != content_hash("m", "text!")
