"""The faiss retriever backend: exact inner product (``IndexFlatIP``) on L2-normalised rows, saved as
``index.faiss`` in the index folder (see :mod:`harness.pipeline.index_store` for the folder and its
manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from harness.config import RetrieverConfigBase
from harness.pipeline.retrievers import RETRIEVERS, RetrieverBackend
from harness.registry import BuildContext


class FaissRetrieverConfig(RetrieverConfigBase):
    backend: Literal["faiss"] = "faiss"
    index: Literal["flat-ip"] = Field(
        "flat-ip", description="Exact inner product on L2-normalised embeddings."
    )


class FlatIPIndex:
    """Exact inner-product search (cosine similarity on normalised rows) with ``faiss.IndexFlatIP``."""

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def from_vectors(cls, vectors: np.ndarray) -> FlatIPIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls(index)

    @classmethod
    def load(cls, folder: Path) -> FlatIPIndex:
        import faiss

        return cls(faiss.read_index(str(folder / "index.faiss")))

    @property
    def faiss_index(self) -> Any:
        return self._index

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(folder / "index.faiss"))


@RETRIEVERS.register("faiss", config=FaissRetrieverConfig)
def build(config: FaissRetrieverConfig, *, ctx: BuildContext) -> RetrieverBackend:
    return RetrieverBackend(
        name="faiss", kind=config.index, build=FlatIPIndex.from_vectors, load=FlatIPIndex.load
    )


__all__ = ["FaissRetrieverConfig", "FlatIPIndex"]
