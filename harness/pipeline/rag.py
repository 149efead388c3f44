"""The reference RAG pipeline: embed the question, search the index, prompt with numbered passages, generate.

Every :class:`Answer` carries its passages, its citations and per-stage timings (embed, search, generate,
total) in milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from harness.config import PipelineConfig, Scenario, Stage
from harness.guarding import GuardChain, GuardResult
from harness.paths import cache_dir
from harness.pipeline.documents import Chunk, chunk_documents, load_documents
from harness.pipeline.embedders import EMBEDDERS
from harness.pipeline.generators import GENERATORS
from harness.pipeline.index_store import IndexStatus, open_index
from harness.pipeline.prompt import Citation, build_messages, parse_citations
from harness.pipeline.protocols import Embedder, Generation, GenerationRequest, Generator, Passage, Retriever
from harness.registry import BuildContext


class StageTimings(BaseModel):
    model_config = ConfigDict(frozen=True)

    embed_ms: float
    search_ms: float
    generate_ms: float
    total_ms: float
    guard_query_ms: float = 0.0
    guard_context_ms: float = 0.0
    guard_answer_ms: float = 0.0


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)

    question: str
    answer: str
    passages: list[Passage]
    citations: list[Citation]
    timings: StageTimings
    generation: Generation
    guard_results: list[GuardResult] = []
    blocked: Stage | None = Field(None, description="The stage at which a guard blocked the request, if one did.")
    # What the generator was sent; kept in memory for leak measurement, never serialized.
    messages: list[dict[str, str]] = Field([], exclude=True)


BLOCKED_QUERY = "This request was blocked by a guard and was not answered."
WITHHELD_ANSWER = "The answer was withheld by a guard."


class RagPipeline:
    def __init__(self, *, embedder: Embedder, index: Retriever, chunks: Sequence[Chunk], generator: Generator,
                 config: PipelineConfig, index_status: IndexStatus | None = None,
                 guards: GuardChain | None = None) -> None:
        self.embedder = embedder
        self.index = index
        self.chunks = list(chunks)
        self.generator = generator
        self.config = config
        self.index_status = index_status
        self.guards = guards or GuardChain()

    def retrieve(self, question: str, top_k: int | None = None) -> tuple[list[Passage], float, float]:
        """Passages for ``question`` and the embed and search times in ms."""
        k = min(top_k or self.config.retriever.top_k, len(self.chunks))
        t0 = time.perf_counter()
        query = self.embedder.embed([question], kind="query")
        t1 = time.perf_counter()
        scores, ids = self.index.search(query, k)
        t2 = time.perf_counter()
        passages = []
        for score, idx in zip(scores[0], ids[0]):
            if idx < 0:
                continue
            c = self.chunks[int(idx)]
            passages.append(Passage(number=len(passages) + 1, chunk_id=c.chunk_id, doc_id=c.doc_id, start=c.start,
                                    end=c.end, score=float(score), text=c.text, title=c.title))
        return passages, (t1 - t0) * 1e3, (t2 - t1) * 1e3

    def answer(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> Answer:
        """Answer ``question``. With guards (and ``guarded``), the query is checked before retrieval, each
        passage before the prompt and the answer before it is returned; a block at any point ends there."""
        started = time.perf_counter()
        chain = self.guards if guarded else GuardChain()
        results: list[GuardResult] = []
        gq = chain.run(question, "query")
        results += gq.results
        if gq.action == "block":
            return self._blocked(question, "query", results, started, guard_query_ms=gq.latency_ms)
        passages, embed_ms, search_ms = self.retrieve(gq.text, top_k)
        t0 = time.perf_counter()
        kept: list[Passage] = []
        for p, gc in zip(passages, chain.run_batch([p.text for p in passages], "context")):
            results += gc.results
            if gc.action != "block":
                kept.append(p.model_copy(update={"text": gc.text, "number": len(kept) + 1}))
        guard_context_ms = (time.perf_counter() - t0) * 1e3 if chain else 0.0
        messages = build_messages(gq.text, kept, self.config.prompt)
        messages[0]["content"] = chain.decorate_system(messages[0]["content"])
        t0 = time.perf_counter()
        generation = self.generator.generate(GenerationRequest(question=gq.text, passages=kept, messages=messages))
        generate_ms = (time.perf_counter() - t0) * 1e3
        ga = chain.run(generation.text, "answer")
        results += ga.results
        text = WITHHELD_ANSWER if ga.action == "block" else ga.text
        timings = StageTimings(embed_ms=embed_ms, search_ms=search_ms, generate_ms=generate_ms,
                               total_ms=(time.perf_counter() - started) * 1e3, guard_query_ms=gq.latency_ms,
                               guard_context_ms=guard_context_ms, guard_answer_ms=ga.latency_ms)
        return Answer(question=question, answer=text, passages=kept, citations=parse_citations(text, kept),
                      timings=timings, generation=generation, guard_results=results,
                      blocked="answer" if ga.action == "block" else None, messages=messages)

    def answer_many(self, questions: Sequence[str], top_k: int | None = None, *,
                    guarded: bool = True) -> list[Answer]:
        """:meth:`answer` for several questions, in order."""
        return [self.answer(q, top_k, guarded=guarded) for q in questions]

    def _blocked(self, question: str, stage: Stage, results: list[GuardResult], started: float,
                 **guard_ms: float) -> Answer:
        total = (time.perf_counter() - started) * 1e3
        return Answer(question=question, answer=BLOCKED_QUERY, passages=[], citations=[],
                      timings=StageTimings(embed_ms=0.0, search_ms=0.0, generate_ms=0.0, total_ms=total, **guard_ms),
                      generation=Generation(text="", finish_reason="blocked"), guard_results=results, blocked=stage)


def default_index_dir(scenario: Scenario) -> Path:
    return scenario.pipeline.retriever.index_dir or cache_dir() / "indexes" / scenario.name


def load_corpus_chunks(scenario: Scenario) -> list[Chunk]:
    return chunk_documents(load_documents(scenario.corpus.paths), scenario.corpus.chunking)


def build_pipeline(scenario: Scenario, *, log: Callable[[str], None] = lambda _m: None,
                   force_index: bool = False, generator: Generator | None = None,
                   guards: GuardChain | None = None) -> RagPipeline:
    """Compose the pipeline a scenario describes: load and chunk the corpus, build the embedder, open (or
    build) the persisted index, build the generator. ``generator`` overrides the configured one."""
    chunks = load_corpus_chunks(scenario)
    embedder = EMBEDDERS.build(scenario.pipeline.embedder)
    index, status = open_index(default_index_dir(scenario), chunks, embedder, scenario.pipeline.retriever,
                               force=force_index, log=log)
    if generator is None:
        generator = GENERATORS.build(scenario.pipeline.generator, BuildContext(embedder=embedder, log=log))
    return RagPipeline(embedder=embedder, index=index, chunks=chunks, generator=generator,
                       config=scenario.pipeline, index_status=status, guards=guards)


__all__ = ["Answer", "RagPipeline", "StageTimings", "build_pipeline", "default_index_dir", "load_corpus_chunks"]
