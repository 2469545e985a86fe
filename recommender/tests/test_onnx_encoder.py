"""The ONNX Runtime query encoder: the same vectors as torch, and a bad file never breaks search."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from recommender import encoders, onnx_encoder
from recommender.encoders import (
    EmbeddingError,
    FakeEncoder,
    LocalEncoderProxy,
    get_encoder,
    get_query_encoder,
    warm_query_encoder,
)
from recommender.onnx_encoder import INT8_FILE, MANIFEST, OnnxEncoder, OnnxUnavailable, build, check_pipeline

SENTENCES = [
    "A great white shark terrorizes a seaside resort town.",
    "the godfather",
    "A young wizard discovers his heritage at a school of magic, where a dark lord's followers wait.",
    "Two astronauts are stranded after their shuttle is destroyed.",
    "tom hanks",
]


@dataclass
class Copy:
    directory: Path
    rebuilds: list[Path]


@pytest.fixture(scope="session")
def built() -> Path:
    """The real ONNX files of the packaged model, in the project's cache (built once, as `make install` does)."""
    from django.conf import settings

    return build(settings.ONNX_CACHE_DIR)


@pytest.fixture
def copy_of_built(built, tmp_path, monkeypatch) -> Copy:
    """A cache directory holding a copy of the real files, whose "rebuild" copies them again (no 20 s export)."""
    cache = tmp_path / "onnx"
    target = cache / built.name
    shutil.copytree(built, target)
    rebuilds = []

    def rebuild(cache_dir: Path, *, force: bool = False) -> Path:
        rebuilds.append(cache_dir)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(built, target)
        return target

    monkeypatch.setattr(onnx_encoder, "build", rebuild)
    return Copy(target, rebuilds)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("variant", ["onnx", "onnx-int8"])
def test_onnx_vectors_are_torch_vectors_within_a_cosine_of_0_99(built, variant):
    torch_vectors = get_encoder("local").encode(SENTENCES)
    encoder = OnnxEncoder(variant, cache_dir=built.parent, threads=1)
    one_by_one = np.vstack([encoder.encode([sentence]) for sentence in SENTENCES])
    batched = encoder.encode(SENTENCES, batch_size=3)  # padded batches pool over the real tokens only
    assert one_by_one.shape == (len(SENTENCES), 384) and one_by_one.dtype == np.float32
    assert cosines(one_by_one, torch_vectors).min() >= 0.99
    assert cosines(batched, torch_vectors).min() >= 0.99
    assert np.allclose(np.linalg.norm(one_by_one, axis=1), 1.0, atol=1e-5)
    if variant == "onnx":
        assert cosines(one_by_one, torch_vectors).min() >= 0.9999


def test_long_texts_are_truncated_like_sentence_transformers(built):
    text = "a heist in a casino that goes wrong " * 100  # far beyond 256 tokens
    torch_vector = get_encoder("local").encode([text])
    onnx_vector = OnnxEncoder("onnx", cache_dir=built.parent, threads=1).encode([text])
    assert cosines(onnx_vector, torch_vector)[0] >= 0.9999


def test_a_missing_onnx_file_is_rebuilt_with_a_logged_warning(copy_of_built, caplog):
    (copy_of_built.directory / INT8_FILE).unlink()
    encoder = OnnxEncoder("onnx-int8", cache_dir=copy_of_built.directory.parent, threads=1, fallback=FakeEncoder())
    with caplog.at_level(logging.WARNING, logger="recommender.onnx_encoder"):
        vector = encoder.encode([SENTENCES[0]])
    assert copy_of_built.rebuilds == [copy_of_built.directory.parent]
    assert "ONNX query encoder unusable" in caplog.text and "does not exist" in caplog.text
    assert not encoder.fell_back
    assert cosines(vector, get_encoder("local").encode([SENTENCES[0]]))[0] >= 0.99


def test_a_corrupt_onnx_file_is_rebuilt_with_a_logged_warning(copy_of_built, caplog):
    (copy_of_built.directory / INT8_FILE).write_bytes(b"not a model at all")
    encoder = OnnxEncoder("onnx-int8", cache_dir=copy_of_built.directory.parent, threads=1, fallback=FakeEncoder())
    with caplog.at_level(logging.WARNING, logger="recommender.onnx_encoder"):
        encoder.load()
    assert len(copy_of_built.rebuilds) == 1 and "ONNX query encoder unusable" in caplog.text
    assert not encoder.fell_back


def test_a_file_giving_wrong_vectors_counts_as_corrupt(copy_of_built, caplog):
    manifest = json.loads((copy_of_built.directory / MANIFEST).read_text())
    manifest["vectors"] = [[-x for x in vector] for vector in manifest["vectors"]]
    (copy_of_built.directory / MANIFEST).write_text(json.dumps(manifest))
    encoder = OnnxEncoder("onnx-int8", cache_dir=copy_of_built.directory.parent, threads=1, fallback=FakeEncoder())
    with caplog.at_level(logging.WARNING, logger="recommender.onnx_encoder"):
        encoder.load()
    assert len(copy_of_built.rebuilds) == 1 and "cosine" in caplog.text


def test_when_the_rebuild_fails_too_queries_fall_back_with_a_logged_warning(tmp_path, monkeypatch, caplog):
    def broken_build(cache_dir: Path, *, force: bool = False) -> Path:
        raise PermissionError(f"{cache_dir} is read-only")

    monkeypatch.setattr(onnx_encoder, "build", broken_build)
    fallback = FakeEncoder()
    encoder = OnnxEncoder("onnx-int8", cache_dir=tmp_path / "empty", threads=1, fallback=fallback)
    with caplog.at_level(logging.WARNING, logger="recommender.onnx_encoder"):
        vectors = encoder.encode(SENTENCES)
    assert encoder.fell_back
    assert np.array_equal(vectors, fallback.encode(SENTENCES))
    assert "could not be rebuilt" in caplog.text and "read-only" in caplog.text and "using torch" in caplog.text


def test_without_a_fallback_an_unusable_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_encoder, "build", lambda cache_dir, force=False: cache_dir)
    with pytest.raises(OnnxUnavailable, match="does not exist"):
        OnnxEncoder("onnx", cache_dir=tmp_path, threads=1).load()


def test_the_query_encoder_setting_chooses_torch_onnx_or_int8(settings, tmp_path):
    settings.ONNX_CACHE_DIR = tmp_path
    settings.ONNX_THREADS = 1
    assert get_query_encoder("torch") is get_encoder("local")
    fp32, int8 = get_query_encoder("onnx"), get_query_encoder("onnx-int8")
    assert isinstance(fp32, OnnxEncoder) and fp32.variant == "onnx"
    assert isinstance(int8, OnnxEncoder) and int8.variant == "onnx-int8"
    assert get_query_encoder("onnx-int8") is int8  # one per process
    assert isinstance(int8.fallback, LocalEncoderProxy)  # torch, if the files cannot be used
    assert int8.name == get_encoder("local").name  # compared with the films' torch vectors
    settings.QUERY_ENCODER = "onnx"
    assert get_query_encoder() is fp32
    with pytest.raises(EmbeddingError, match="Unknown QUERY_ENCODER 'fast'"):
        get_query_encoder("fast")


def test_other_backends_encode_queries_with_their_own_encoder(settings):
    settings.EMBEDDING_BACKEND = "fake"
    settings.QUERY_ENCODER = "onnx-int8"
    assert encoders.encode_query("a comet over the sea") == list(FakeEncoder().encode(["a comet over the sea"])[0])


@pytest.mark.parametrize("threads", [1, 2])
def test_the_thread_setting_reaches_onnx_runtime(built, settings, threads):
    settings.ONNX_CACHE_DIR = built.parent
    settings.ONNX_THREADS = threads
    encoder = get_query_encoder("onnx-int8")
    encoder.load()
    assert encoder.threads == threads
    assert encoder._session.get_session_options().intra_op_num_threads == threads


def test_gunicorn_gives_each_worker_one_onnx_thread_and_one_torch_thread(monkeypatch):
    import os
    import runpy

    from django.conf import settings

    # Set then unset: the test's end restores the variables the conf file sets as they were.
    for name in ("ONNX_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)
    runpy.run_path(str(Path(settings.BASE_DIR) / "moviesite" / "gunicorn.conf.py"))
    assert os.environ["ONNX_THREADS"] == "1" and os.environ["OMP_NUM_THREADS"] == "1"


def test_the_pipeline_check_refuses_a_model_pooled_otherwise(tmp_path):
    model = onnx_encoder.model_path()
    assert check_pipeline(model).max_seq_length == 256
    for name in ("modules.json", "sentence_bert_config.json"):
        shutil.copy(model / name, tmp_path / name)
    (tmp_path / "1_Pooling").mkdir()
    pooling = json.loads((model / "1_Pooling" / "config.json").read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with pytest.raises(OnnxUnavailable, match="not mean pooling"):
        check_pipeline(tmp_path)


def test_the_build_command_leaves_existing_files_alone(built, settings, capsys):
    settings.ONNX_CACHE_DIR = built.parent
    settings.EMBEDDING_BACKEND = "local"
    settings.QUERY_ENCODER = "onnx-int8"
    modified = (built / INT8_FILE).stat().st_mtime_ns
    call_command("build_query_encoder")
    assert "up to date" in capsys.readouterr().out
    assert (built / INT8_FILE).stat().st_mtime_ns == modified
    settings.QUERY_ENCODER = "torch"
    call_command("build_query_encoder")
    assert "nothing to build" in capsys.readouterr().out


def test_a_server_process_loads_the_onnx_encoder_at_start_only_when_its_file_is_built(
    built, settings, tmp_path, monkeypatch
):
    def no_build(cache_dir: Path, *, force: bool = False) -> Path:
        raise AssertionError("a worker's start never builds")

    monkeypatch.setattr(onnx_encoder, "build", no_build)
    settings.EMBEDDING_BACKEND = "local"
    settings.QUERY_ENCODER = "onnx"
    settings.ONNX_THREADS = 1
    settings.ONNX_CACHE_DIR = tmp_path / "nothing-built"
    warm_query_encoder()
    assert get_query_encoder()._session is None and not get_query_encoder()._fell_back
    settings.ONNX_CACHE_DIR = built.parent
    warm_query_encoder()
    assert get_query_encoder()._session is not None
