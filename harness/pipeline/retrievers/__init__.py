"""The retriever registry: each backend says how to build an index from vectors and how to load a persisted
one.

``RETRIEVERS`` is keyed by ``pipeline.retriever.backend``. The folder an index persists to names the backend
that wrote it in its manifest, so loading never guesses: :func:`harness.pipeline.index_store.open_index`
asks the backend the manifest names.

Adding a backend is one module: drop it in this package (``faiss_flat.py``, ``torch_exact.py`` and
``faiss_gpu.py`` are the built-in ones), or ship it in your own package under the entry-point group
``rag_harden.retrievers``. The module defines its config model (a subclass of
:class:`harness.config.RetrieverConfigBase` with ``backend: Literal["name"]``) and registers its factory with
it::

    @RETRIEVERS.register("mine", config=MyRetrieverConfig)
    def build(config: MyRetrieverConfig, *, ctx: BuildContext) -> RetrieverBackend: ...

Scenarios then accept ``retriever: {backend: mine, ...}``, validated by that model (unknown keys rejected),
and ``rag-harden schema`` includes it. Modules are imported when a backend is first looked up, never at
import time of the config, and none imports faiss or torch at import time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.pipeline.protocols import Retriever
from harness.registry import Registry

ENTRY_POINT_GROUP = "rag_harden.retrievers"


@dataclass(frozen=True)
class RetrieverBackend:
    """How one backend builds an index from L2-normalised rows and loads one it saved. ``kind`` enters the
    index's content hash: two configurations that build different indexes must have different kinds."""

    name: str
    kind: str
    build: Callable[[np.ndarray], Retriever]
    load: Callable[[Path], Retriever]


RETRIEVERS: Registry[Any, RetrieverBackend] = Registry(
    "retriever", package=__name__, entry_points=ENTRY_POINT_GROUP
)

__all__ = ["ENTRY_POINT_GROUP", "RETRIEVERS", "RetrieverBackend"]
