"""The ``faiss-gpu`` retriever backend: ``IndexFlatIP`` on a CUDA device, for installs with the optional
``gpu`` extra (a faiss build with GPU support). The index is saved as a faiss CPU index (``index.faiss``) and
moved to the GPU when loaded; its index kind differs from the ``faiss`` backend's, so switching backends
rebuilds the folder."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from harness.config import RetrieverConfigBase
from harness.errors import BackendUnavailable
from harness.pipeline.retrievers import RETRIEVERS, RetrieverBackend
from harness.pipeline.retrievers.faiss_flat import FlatIPIndex
from harness.registry import BuildContext


class FaissGpuRetrieverConfig(RetrieverConfigBase):
    """faiss ``IndexFlatIP`` on a CUDA device (the optional ``faiss-gpu`` extra); persisted as a faiss CPU
    index."""

    backend: Literal["faiss-gpu"] = "faiss-gpu"
    gpu_id: int = Field(0, ge=0, le=64)


INDEX_KIND = "faiss-gpu-flat-ip"


def faiss_gpu_available() -> bool:
    try:
        import faiss
    except ImportError:
        return False
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class FaissGpuFlatIndex:
    """A :class:`FlatIPIndex` copied to a CUDA device: searched there, saved from the CPU copy."""

    def __init__(self, cpu: FlatIPIndex, gpu_id: int) -> None:
        import faiss

        self._cpu = cpu
        self._res = faiss.StandardGpuResources()
        self._gpu = FlatIPIndex(faiss.index_cpu_to_gpu(self._res, gpu_id, cpu.faiss_index))

    @property
    def size(self) -> int:
        return self._gpu.size

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return self._gpu.search(queries, k)

    def save(self, folder: Path) -> None:
        self._cpu.save(folder)


@RETRIEVERS.register("faiss-gpu", config=FaissGpuRetrieverConfig)
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
        build=lambda vectors: FaissGpuFlatIndex(FlatIPIndex.from_vectors(vectors), gpu_id),
        load=lambda folder: FaissGpuFlatIndex(FlatIPIndex.load(folder), gpu_id),
    )


__all__ = ["FaissGpuFlatIndex", "FaissGpuRetrieverConfig", "faiss_gpu_available"]
