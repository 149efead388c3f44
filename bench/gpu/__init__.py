"""GPU benchmarks (``rag-harden gpu``, ``python -m bench.gpu``): each figure beside the hardware's own limit.

Importable with torch, numpy and transformers alone (no pydantic, no faiss): the GPU machine has nothing else.
"""

from __future__ import annotations

from typing import Any


def run_for_scenario(config: Any, log: Any = None) -> dict[str, float]:
    """A scenario's ``gpu:`` block -> its ``gpu.*`` metrics (see :func:`bench.gpu.run.run_for_scenario`)."""
    from bench.gpu.run import run_for_scenario as run

    return run(config) if log is None else run(config, log)


__all__ = ["run_for_scenario"]
