"""The seams of the reference pipeline: small Protocols, and the typed values that cross them.

Every backend satisfies one of these; :mod:`tests.fakes` holds deterministic hand-written ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict

EmbedKind = Literal["query", "passage"]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows."""

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray: ...

    def fingerprint(self) -> dict[str, Any]:
        """What determines the vectors (model, weights, prefixes): part of the index's content hash."""
        ...


@runtime_checkable
class Retriever(Protocol):
    """Nearest-neighbour search over passage vectors, persisted to a folder. Backends (faiss, torch, ...) register
    in :data:`harness.pipeline.retrievers.RETRIEVERS`; the one that wrote a folder is named in its manifest."""

    @property
    def size(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row ids, each shaped (n_queries, k); missing neighbours have id -1."""
        ...

    def save(self, folder: Path) -> None: ...


VectorIndex = Retriever  # the name used before the retriever registry existed


class Passage(BaseModel):
    """A retrieved chunk, numbered from 1 in the order the prompt shows it."""

    model_config = ConfigDict(frozen=True)

    number: int
    chunk_id: str
    doc_id: str
    start: int
    end: int
    score: float
    text: str
    title: str = ""


class GenerationRequest(BaseModel):
    """What a generator receives: chat messages for LLM backends, and the raw question and passages for
    backends that work on them directly (the extractive baseline)."""

    model_config = ConfigDict(frozen=True)

    question: str
    passages: list[Passage]
    messages: list[dict[str, str]]


class Generation(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    model: str = ""


@runtime_checkable
class Generator(Protocol):
    def generate(self, request: GenerationRequest) -> Generation: ...

    def describe(self) -> dict[str, Any]:
        """Backend, model and decoding settings, for the report."""
        ...


__all__ = ["EmbedKind", "Embedder", "Generation", "GenerationRequest", "Generator", "Passage", "Retriever", "VectorIndex"]
