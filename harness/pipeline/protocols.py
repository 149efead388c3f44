"""The seams of the reference pipeline: small Protocols, and the typed values that cross them.

Every backend satisfies one of these; :mod:`tests.fakes` holds deterministic hand-written ones.
"""

from __future__ import annotations

from collections.abc import Generator as PyGenerator
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

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
    """Nearest-neighbour search over passage vectors, persisted to a folder. Backends (faiss, torch, ...)
    register
    in :data:`harness.pipeline.retrievers.RETRIEVERS`; the one that wrote a folder is named in its
    manifest."""

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
    passages: list[Passage] = Field(description="The passages the prompt shows (none when closed book).")
    messages: list[dict[str, str]]
    retrieved: list[Passage] = Field(
        [], description="Every passage retrieval kept (what citations refer to)."
    )


class Generation(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    model: str = ""


TokenStream = PyGenerator[str, None, Generation | None]
"""Text deltas as they are produced; the generator's return value (``StopIteration.value``, or the value of
``yield from``) is the finished :class:`Generation` (token counts, finish reason), or None if it has none."""


@runtime_checkable
class Generator(Protocol):
    """What the pipeline needs of a generator: ``generate`` and ``describe``. Batching and streaming are
    optional
    capabilities (:class:`BatchGenerator`, :class:`StreamingGenerator`); :class:`BaseGenerator` gives
    defaults, and
    :func:`generate_many` and :func:`stream_generation` fall back for backends that implement only
    ``generate``."""

    def generate(self, request: GenerationRequest) -> Generation: ...

    def describe(self) -> dict[str, Any]:
        """Backend, model and decoding settings, for the report."""
        ...


@runtime_checkable
class BatchGenerator(Protocol):
    def generate_many(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One generation per request, in order (a batched forward pass, or bounded concurrent requests)."""
        ...


@runtime_checkable
class StreamingGenerator(Protocol):
    def stream(self, request: GenerationRequest) -> TokenStream:
        """Text deltas as the backend produces them; their concatenation is the generated text."""
        ...


class BaseGenerator:
    """Defaults for the optional capabilities: ``generate_many`` loops over ``generate``; ``stream`` yields
    the
    whole ``generate()`` text once (so time to first token equals the full latency)."""

    def generate(self, request: GenerationRequest) -> Generation:
        raise NotImplementedError

    def generate_many(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [self.generate(r) for r in requests]

    def stream(self, request: GenerationRequest) -> TokenStream:
        generation = self.generate(request)
        if generation.text:
            yield generation.text
        return generation


def generate_many(generator: Generator, requests: Sequence[GenerationRequest]) -> list[Generation]:
    """``generator.generate_many`` where the backend batches, else one ``generate`` per request."""
    if not requests:
        return []
    if isinstance(generator, BatchGenerator):
        out = generator.generate_many(requests)
        if len(out) != len(requests):
            raise RuntimeError(f"generate_many returned {len(out)} generations for {len(requests)} requests")
        return out
    return [generator.generate(r) for r in requests]


def stream_generation(generator: Generator, request: GenerationRequest) -> TokenStream:
    """``generator.stream`` where the backend streams, else the whole ``generate()`` text as one delta."""
    if isinstance(generator, StreamingGenerator):
        return (yield from generator.stream(request))
    generation = generator.generate(request)
    if generation.text:
        yield generation.text
    return generation


AnswerStream = PyGenerator[Any, None, None]
"""What :meth:`AnswersPipeline.answer_stream` yields: text deltas (``str``) as they may be released, then the
final answer object (the same type ``answer`` returns). Closing it early stops the generation."""


class AnswersPipeline(Protocol):
    """The system under test and what ``rag-harden serve`` serves: the reference pipeline
    (:class:`~harness.pipeline.rag.RagPipeline`), an external target
    (:class:`~harness.targets.base.GuardedTarget`) or the guard proxy. A class that subclasses this protocol
    explicitly inherits the default ``answer_stream`` (one delta with the whole guarded answer); backends that
    stream override it."""

    def answer(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> Any: ...

    def answer_many(
        self, questions: Sequence[str], top_k: int | None = None, *, guarded: bool = True
    ) -> list[Any]: ...

    def answer_stream(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> AnswerStream:
        """Text deltas, then the final answer. The default answers in full first (every guard applied), so
        its one delta arrives when the whole answer is ready: time to first token equals the full latency."""
        result = self.answer(question, top_k, guarded=guarded)
        if result.answer:
            yield result.answer
        yield result


__all__ = [
    "AnswerStream",
    "AnswersPipeline",
    "BaseGenerator",
    "BatchGenerator",
    "EmbedKind",
    "Embedder",
    "Generation",
    "GenerationRequest",
    "Generator",
    "Passage",
    "Retriever",
    "StreamingGenerator",
    "TokenStream",
    "VectorIndex",
    "generate_many",
    "stream_generation",
]
