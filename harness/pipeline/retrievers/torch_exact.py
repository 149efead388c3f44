"""The ``torch`` retriever backend: exact inner product on torch tensors, on CUDA when there is one, else
the CPU.

Search is :func:`harness.torch_search.exact_topk` (chunked over the corpus, running top-k). The index folder
holds ``vectors.npy`` (float32, as embedded, whatever the search dtype) next to the manifest and chunks that
:mod:`harness.pipeline.index_store` writes; the content hash and staleness rules are that module's, with
``torch-exact-ip`` as the index kind, so a folder built by another backend is rebuilt rather than misread.
Device and dtype are search settings, not part of the hash: an index built on a CPU loads on a GPU unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from harness.config import RetrieverConfigBase
from harness.errors import BackendUnavailable
from harness.pipeline.retrievers import RETRIEVERS, RetrieverBackend
from harness.registry import BuildContext


class TorchRetrieverConfig(RetrieverConfigBase):
    """Exact inner-product search on torch tensors, chunked over the corpus."""

    backend: Literal["torch"] = "torch"
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when there is one, else the CPU."
    )
    dtype: Literal["fp32", "fp16", "bf16"] = Field(
        "fp32", description="Precision of the stored vectors and scores."
    )
    chunk_rows: int = Field(
        1_048_576,
        ge=1024,
        le=1 << 30,
        description="Corpus rows scored per step (a running top-k is kept across steps).",
    )


VECTORS_FILE = "vectors.npy"
INDEX_KIND = "torch-exact-ip"


class TorchExactIndex:
    """Exact top-k by inner product over L2-normalised rows kept as a torch tensor on the search device."""

    def __init__(
        self, vectors: np.ndarray, *, device: str = "auto", dtype: str = "fp32", chunk_rows: int = 1_048_576
    ) -> None:
        from harness.torch_search import DTYPES, place_corpus, resolve_device

        self._host = np.ascontiguousarray(vectors, dtype=np.float32)
        if self._host.ndim != 2:
            raise ValueError(f"vectors must be 2-D, got shape {self._host.shape}")
        self.device = resolve_device(device)
        self.dtype = DTYPES[dtype]
        self.chunk_rows = chunk_rows
        self._corpus = place_corpus(self._host, self.device, self.dtype)

    @classmethod
    def load(cls, folder: Path, **settings: Any) -> TorchExactIndex:
        return cls(np.load(folder / VECTORS_FILE, allow_pickle=False), **settings)

    @property
    def size(self) -> int:
        return int(self._host.shape[0])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from harness.torch_search import exact_topk, to_numpy

        q = torch.as_tensor(np.ascontiguousarray(queries, dtype=np.float32)).to(self.device, self.dtype)
        with torch.inference_mode():
            scores, ids = exact_topk(q, self._corpus, k, chunk_rows=self.chunk_rows)
        return to_numpy(scores, ids)

    def save(self, folder: Path) -> None:
        np.save(folder / VECTORS_FILE, self._host, allow_pickle=False)

    def describe(self) -> dict[str, Any]:
        return {
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "rows": self.size,
        }


@RETRIEVERS.register("torch", config=TorchRetrieverConfig)
def build(config: TorchRetrieverConfig, *, ctx: BuildContext) -> RetrieverBackend:
    if config.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable(
                "retriever.device is 'cuda' but torch finds no CUDA device; use device: auto"
            )
    device, dtype, rows = config.device, config.dtype, config.chunk_rows
    return RetrieverBackend(
        name="torch",
        kind=INDEX_KIND,
        build=lambda vectors: TorchExactIndex(vectors, device=device, dtype=dtype, chunk_rows=rows),
        load=lambda folder: TorchExactIndex.load(folder, device=device, dtype=dtype, chunk_rows=rows),
    )


__all__ = ["INDEX_KIND", "TorchExactIndex", "TorchRetrieverConfig"]
