"""The retriever registry: each backend says how to build an index from vectors and how to load a persisted
one.

``RETRIEVERS`` is keyed by ``pipeline.retriever.backend``. The folder an index persists to names the backend
that wrote it in its manifest, so loading never guesses: :func:`harness.pipeline.index_store.open_index`
asks the backend the manifest names. Adding a backend is one module that registers itself here (imported
at the bottom of this file) plus its config model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.pipeline.protocols import Retriever
from harness.registry import Registry


@dataclass(frozen=True)
class RetrieverBackend:
    """How one backend builds an index from L2-normalised rows and loads one it saved. ``kind`` enters the
    index's content hash: two configurations that build different indexes must have different kinds."""

    name: str
    kind: str
    build: Callable[[np.ndarray], Retriever]
    load: Callable[[Path], Retriever]


RETRIEVERS: Registry[Any, RetrieverBackend] = Registry("retriever")

# Importing the backend modules registers them; none imports faiss or torch at import time.
from harness.pipeline import faiss_gpu_index, faiss_index, torch_retriever  # noqa: E402,F401

__all__ = ["RETRIEVERS", "RetrieverBackend"]
