"""The reference RAG pipeline: embed the question, search the index, prompt with numbered passages, generate.

Every :class:`Answer` carries its passages, its citations and per-stage timings (embed, search, generate,
total) in milliseconds.

:meth:`RagPipeline.answer_many` runs a batch stage by stage: the query guard per question, one embedding
call for all questions, one search, one context-guard call over all passages, one ``generate_many`` (a
batched forward pass, or bounded concurrent requests), then the answer guard per answer. Guard times are
measured per item; the embed, search and generate times of the batch are divided evenly among the items
that reached that stage, and ``total_ms`` is the sum of an item's stage times (its share of the batch's
work, not its wall latency, which is the whole batch's). :meth:`RagPipeline.answer_stream` yields the answer
as it is generated, through the answer guard's hold-back window (:mod:`harness.pipeline.streaming`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from collections.abc import Generator as PyGenerator
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
from harness.pipeline.protocols import (
    AnswersPipeline,
    Embedder,
    Generation,
    GenerationRequest,
    Generator,
    Passage,
    Retriever,
    generate_many,
    stream_generation,
)
from harness.pipeline.streaming import STREAM_HOLDBACK_CHARS, WITHHELD_ANSWER, GuardedRelease, release_stream
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
    first_token_ms: float | None = Field(
        None, description="Streamed answers: from the request to the first released text."
    )


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)

    question: str
    answer: str
    passages: list[Passage]
    citations: list[Citation]
    timings: StageTimings
    generation: Generation
    guard_results: list[GuardResult] = []
    blocked: Stage | None = Field(
        None, description="The stage at which a guard blocked the request, if one did."
    )
    # What the generator was sent; kept in memory for leak measurement, never serialized.
    messages: list[dict[str, str]] = Field([], exclude=True)


BLOCKED_QUERY = "This request was blocked by a guard and was not answered."


class RagPipeline(AnswersPipeline):
    def __init__(
        self,
        *,
        embedder: Embedder,
        index: Retriever,
        chunks: Sequence[Chunk],
        generator: Generator,
        config: PipelineConfig,
        index_status: IndexStatus | None = None,
        guards: GuardChain | None = None,
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.chunks = list(chunks)
        self.generator = generator
        self.config = config
        self.index_status = index_status
        self.guards = guards or GuardChain()

    def retrieve(self, question: str, top_k: int | None = None) -> tuple[list[Passage], float, float]:
        """Passages for ``question`` and the embed and search times in ms."""
        passages, embed_ms, search_ms = self.retrieve_many([question], top_k)
        return passages[0], embed_ms, search_ms

    def retrieve_many(
        self,
        questions: Sequence[str],
        top_k: int | None = None,
    ) -> tuple[list[list[Passage]], float, float]:
        """Passages for each question (one embedding call, one search) and the batch's embed and search ms."""
        k = min(top_k or self.config.retriever.top_k, len(self.chunks))
        t0 = time.perf_counter()
        query = self.embedder.embed(list(questions), kind="query")
        t1 = time.perf_counter()
        scores, ids = self.index.search(query, k)
        t2 = time.perf_counter()
        out = []
        for row_scores, row_ids in zip(scores, ids, strict=True):
            passages: list[Passage] = []
            for score, idx in zip(row_scores, row_ids, strict=True):
                if idx < 0:
                    continue
                c = self.chunks[int(idx)]
                passages.append(
                    Passage(
                        number=len(passages) + 1,
                        chunk_id=c.chunk_id,
                        doc_id=c.doc_id,
                        start=c.start,
                        end=c.end,
                        score=float(score),
                        text=c.text,
                        title=c.title,
                    )
                )
            out.append(passages)
        return out, (t1 - t0) * 1e3, (t2 - t1) * 1e3

    def _guard_context(
        self,
        chain: GuardChain,
        passages: Sequence[list[Passage]],
    ) -> list[tuple[list[Passage], list[GuardResult], float]]:
        """One context-guard call over every passage of every question: the kept passages (renumbered), the
        results and the guard time (the passages' shares) per question."""
        flat = [p for ps in passages for p in ps]
        outcomes = iter(chain.run_batch([p.text for p in flat], "context") if chain and flat else [])
        out = []
        for ps in passages:
            kept: list[Passage] = []
            results: list[GuardResult] = []
            ms = 0.0
            for p in ps:
                gc = next(outcomes, None)
                if gc is None:
                    kept.append(p)
                    continue
                results += gc.results
                ms += gc.latency_ms
                if gc.action != "block":
                    kept.append(p.model_copy(update={"text": gc.text, "number": len(kept) + 1}))
            out.append((kept, results, ms))
        return out

    def _request(self, chain: GuardChain, question: str, kept: list[Passage]) -> GenerationRequest:
        messages = build_messages(question, kept, self.config.prompt)
        messages[0]["content"] = chain.decorate_system(messages[0]["content"])
        # Closed book: the generator sees no passage (the extractive baseline answers from `passages`, not
        # from
        # the prompt). Retrieval still ran: the answer reports what it kept, so retrieval metrics stay
        # measured.
        shown = [] if self.config.prompt.closed_book else kept
        return GenerationRequest(question=question, passages=shown, messages=messages, retrieved=kept)

    def _answer(
        self,
        question: str,
        request: GenerationRequest,
        generation: Generation,
        text: str,
        *,
        blocked: bool,
        results: list[GuardResult],
        **ms: float | None,
    ) -> Answer:
        ms.setdefault("total_ms", sum(v for k, v in ms.items() if v is not None and k != "first_token_ms"))
        return Answer(
            question=question,
            answer=text,
            passages=request.retrieved,
            citations=parse_citations(text, request.retrieved),
            timings=StageTimings(**ms),  # type: ignore[arg-type]
            generation=generation,
            guard_results=results,
            blocked="answer" if blocked else None,
            messages=request.messages,
        )

    def answer(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> Answer:
        """Answer ``question``. With guards (and ``guarded``), the query is checked before retrieval, each
        passage before the prompt and the answer before it is returned; a block at any point ends there."""
        started = time.perf_counter()
        answer = self.answer_many([question], top_k, guarded=guarded)[0]
        total = (time.perf_counter() - started) * 1e3  # one item: its wall time
        return answer.model_copy(update={"timings": answer.timings.model_copy(update={"total_ms": total})})

    def answer_many(
        self, questions: Sequence[str], top_k: int | None = None, *, guarded: bool = True
    ) -> list[Answer]:
        """:meth:`answer` for several questions, in order, each stage batched (the module docstring says how
        the batch's stage times are shared among its items)."""
        chain = self.guards if guarded else GuardChain()
        answers: list[Answer | None] = [None] * len(questions)
        gqs = [chain.run(q, "query") for q in questions]
        live = []
        for i, gq in enumerate(gqs):
            if gq.action == "block":
                answers[i] = self._blocked(
                    questions[i], "query", gq.results, gq.latency_ms, guard_query_ms=gq.latency_ms
                )
            else:
                live.append(i)
        if live:
            passages, embed_ms, search_ms = self.retrieve_many([gqs[i].text for i in live], top_k)
            contexts = self._guard_context(chain, passages)
            requests = [
                self._request(chain, gqs[i].text, kept)
                for i, (kept, _, _) in zip(live, contexts, strict=True)
            ]
            t0 = time.perf_counter()
            generations = generate_many(self.generator, requests)
            generate_ms = (time.perf_counter() - t0) * 1e3 / len(live)
            for i, request, generation, (_, context_results, context_ms) in zip(
                live, requests, generations, contexts, strict=True
            ):
                ga = chain.run(generation.text, "answer")
                blocked = ga.action == "block"
                answers[i] = self._answer(
                    questions[i],
                    request,
                    generation,
                    WITHHELD_ANSWER if blocked else ga.text,
                    blocked=blocked,
                    results=gqs[i].results + context_results + ga.results,
                    embed_ms=embed_ms / len(live),
                    search_ms=search_ms / len(live),
                    generate_ms=generate_ms,
                    guard_query_ms=gqs[i].latency_ms,
                    guard_context_ms=context_ms,
                    guard_answer_ms=ga.latency_ms,
                )
        return [a for a in answers if a is not None]

    def answer_stream(
        self,
        question: str,
        top_k: int | None = None,
        *,
        guarded: bool = True,
        holdback_chars: int = STREAM_HOLDBACK_CHARS,
    ) -> PyGenerator[str | Answer, None, None]:
        """Text deltas of the answer as the generator produces them, then the final :class:`Answer`.

        Retrieval and the query and context guards run first (a query block yields the block message and its
        Answer). The answer guard sees the text through :class:`~harness.pipeline.streaming.GuardedRelease`:
        text is released only once it has been checked with ``holdback_chars`` characters after it (the
        trade-off
        between time to first token and safety is described there). Unless the answer is blocked (the deltas
        then end with the withheld notice) the deltas joined are the Answer's text. Closing the iterator early
        stops the generation."""
        started = time.perf_counter()
        chain = self.guards if guarded else GuardChain()
        gq = chain.run(question, "query")
        if gq.action == "block":
            yield BLOCKED_QUERY
            yield self._blocked(
                question,
                "query",
                gq.results,
                (time.perf_counter() - started) * 1e3,
                guard_query_ms=gq.latency_ms,
            )
            return
        passages, embed_ms, search_ms = self.retrieve_many([gq.text], top_k)
        kept, context_results, context_ms = self._guard_context(chain, passages)[0]
        request = self._request(chain, gq.text, kept)
        release = GuardedRelease(chain, holdback_chars=holdback_chars)
        t0 = time.perf_counter()
        generation = yield from release_stream(release, stream_generation(self.generator, request))
        generate_ms = (time.perf_counter() - t0) * 1e3 - release.latency_ms
        first_token_ms = None
        if release.first_released_at is not None:
            first_token_ms = (release.first_released_at - started) * 1e3
        text = WITHHELD_ANSWER if release.blocked else release.final_text
        yield self._answer(
            question,
            request,
            generation,
            text,
            blocked=release.blocked,
            results=gq.results + context_results + release.results,
            embed_ms=embed_ms,
            search_ms=search_ms,
            generate_ms=generate_ms,
            guard_query_ms=gq.latency_ms,
            guard_context_ms=context_ms,
            guard_answer_ms=release.latency_ms,
            total_ms=(time.perf_counter() - started) * 1e3,
            first_token_ms=first_token_ms,
        )

    def _blocked(
        self, question: str, stage: Stage, results: list[GuardResult], total_ms: float, **guard_ms: float
    ) -> Answer:
        return Answer(
            question=question,
            answer=BLOCKED_QUERY,
            passages=[],
            citations=[],
            timings=StageTimings(embed_ms=0.0, search_ms=0.0, generate_ms=0.0, total_ms=total_ms, **guard_ms),
            generation=Generation(text="", finish_reason="blocked"),
            guard_results=results,
            blocked=stage,
        )


def default_index_dir(scenario: Scenario) -> Path:
    return scenario.pipeline.retriever.index_dir or cache_dir() / "indexes" / scenario.name


def load_corpus_chunks(scenario: Scenario) -> list[Chunk]:
    return chunk_documents(load_documents(scenario.corpus.paths), scenario.corpus.chunking)


def build_pipeline(
    scenario: Scenario,
    *,
    log: Callable[[str], None] = lambda _m: None,
    force_index: bool = False,
    generator: Generator | None = None,
    guards: GuardChain | None = None,
) -> RagPipeline:
    """Compose the pipeline a scenario describes: load and chunk the corpus, build the embedder, open (or
    build) the persisted index, build the generator. ``generator`` overrides the configured one."""
    chunks = load_corpus_chunks(scenario)
    embedder = EMBEDDERS.build(scenario.pipeline.embedder)
    index, status = open_index(
        default_index_dir(scenario), chunks, embedder, scenario.pipeline.retriever, force=force_index, log=log
    )
    if generator is None:
        generator = GENERATORS.build(scenario.pipeline.generator, BuildContext(embedder=embedder, log=log))
    return RagPipeline(
        embedder=embedder,
        index=index,
        chunks=chunks,
        generator=generator,
        config=scenario.pipeline,
        index_status=status,
        guards=guards,
    )


__all__ = [
    "Answer",
    "RagPipeline",
    "StageTimings",
    "build_pipeline",
    "default_index_dir",
    "load_corpus_chunks",
]
