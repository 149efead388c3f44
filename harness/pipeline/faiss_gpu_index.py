"""The ``faiss-gpu`` retriever backend: ``IndexFlatIP`` on a CUDA device, for installs with the optional
``gpu``
extra (a faiss build with GPU support). The index is saved as a faiss CPU index (``index.faiss``) and moved
to the
GPU when loaded; its index kind differs from the ``faiss`` backend's, so switching backends rebuilds the
folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import BackendUnavailable
from harness.pipeline.retrievers import RETRIEVERS, RetrieverBackend
from harness.registry import BuildContext

if TYPE_CHECKING:
    from harness.config import FaissGpuRetrieverConfig

INDEX_KIND = "faiss-gpu-flat-ip"


def faiss_gpu_available() -> bool:
    try:
        import faiss
    except ImportError:
        return False
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class FaissGpuFlatIndex:
    def __init__(self, cpu_index: Any, gpu_id: int) -> None:
        import faiss

        self._cpu = cpu_index
        self._res = faiss.StandardGpuResources()
        self._gpu = faiss.index_cpu_to_gpu(self._res, gpu_id, cpu_index)

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, gpu_id: int) -> FaissGpuFlatIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls(index, gpu_id)

    @classmethod
    def load(cls, folder: Path, gpu_id: int) -> FaissGpuFlatIndex:
        import faiss

        return cls(faiss.read_index(str(folder / "index.faiss")), gpu_id)

    @property
    def size(self) -> int:
        return int(self._gpu.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self._gpu.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._cpu, str(folder / "index.faiss"))


@RETRIEVERS.register("faiss-gpu")
def build(config: FaissGpuRetrieverConfig, *, ctx: BuildContext) -> RetrieverBackend:
    if not faiss_gpu_available():
        raise BackendUnavailable(
            "retriever.backend 'faiss-gpu' needs a faiss build with GPU support and a CUDA "
            "device (pip install 'rag-harden[gpu]'); use backend: torch for GPU search without it"
        )
    gpu_id = config.gpu_id
    return RetrieverBackend(
        name="faiss-gpu",
        kind=INDEX_KIND,
        build=lambda vectors: FaissGpuFlatIndex.from_vectors(vectors, gpu_id),
        load=lambda folder: FaissGpuFlatIndex.load(folder, gpu_id),
    )


__all__ = ["FaissGpuFlatIndex", "faiss_gpu_available"]
