"""Answer golden items with the system under test and score each one: :func:`iter_scored` yields
:class:`~harness.results.ItemResult` objects, one per golden item, in order.

A failing item is recorded with its error and the run goes on; a backend that becomes unreachable ends the
iteration with an item marked ``aborts_run`` (every later item would fail the same way). Writing items, the
run-level figures and the pass/fail decision are elsewhere (:mod:`harness.flow`, :mod:`harness.summary`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import BackendUnavailable, HardenError
from harness.eval.abstention import is_declined, is_uncited
from harness.eval.attacks import Canary, DirectProbe, score_attack
from harness.eval.leaks import PlantedValues
from harness.eval.retrieval import retrieval_scores
from harness.golden import GoldenExample
from harness.pipeline.index_store import IndexStatus
from harness.pipeline.protocols import AnswersPipeline  # the system under test (re-exported)
from harness.results import ItemResult, RetrievedRef
from harness.text import strip_citations

if TYPE_CHECKING:  # importing the scorer costs about 0.5 s; the runner needs only its protocol
    from harness.eval.groundedness import ScoresGroundedness


class ScoresAnswers(Protocol):
    def score(self, reference: str, response: str) -> dict[str, float]: ...


@dataclass(frozen=True)
class BenchComponents:
    """What scoring a scenario needs, as composed by :func:`harness.compose.build_components` (or a test)."""

    pipeline: AnswersPipeline
    scorer: ScoresAnswers
    description: dict[str, Any] = field(default_factory=dict)
    index_status: IndexStatus | None = None
    redact: Callable[[str], str] = field(default=lambda text: text)
    planted: PlantedValues | None = None
    extra_metrics: dict[str, float] = field(default_factory=dict)  # scenario-level figures (injection probes)
    groundedness: ScoresGroundedness | None = None
    judge: Any = None  # harness.eval.judge.JudgeScorer when the scenario configures a judge
    canary: Canary | None = None  # injection_probe.canary: attack success per item (harness/eval/attacks.py)
    probe_outcomes: list[DirectProbe] = field(default_factory=list)  # injection_probe.direct, per probe
    # passage text -> its redaction: each chunk is redacted once per run, however often it is retrieved
    redacted_passages: dict[str, str] = field(default_factory=dict)

    def redact_passage(self, text: str) -> str:
        if text not in self.redacted_passages:
            self.redacted_passages[text] = self.redact(text)
        return self.redacted_passages[text]


def _leaks(planted: PlantedValues, answer: Any) -> tuple[list[str], list[str]]:
    prompt = "\n".join(m["content"] for m in answer.messages)
    return planted.found_in(prompt), planted.found_in(answer.answer)


def score_item(example: GoldenExample, parts: BenchComponents, ks: Sequence[int]) -> ItemResult:
    """Answer one golden item and score it."""
    return score_answer(example, parts.pipeline.answer(example.user_input), parts, ks)


def _contexts(example: GoldenExample, result: Any) -> tuple[list[str], str | None]:
    """What an answer is grounded against, and, for an external target, where that came from: an external
    target (harness.targets) may return no contexts, then groundedness is scored against the golden set's
    reference_contexts, and says so."""
    if getattr(result, "target_kind", None) is None:
        return [p.text for p in result.passages], None
    contexts = [p.text for p in result.passages if p.text]
    return (contexts, "target") if contexts else (list(example.reference_contexts), "reference_contexts")


def _declined(result: Any) -> bool:
    return is_declined(result.answer) or result.blocked is not None


def groundedness_input(example: GoldenExample, result: Any) -> tuple[str, list[str], str] | None:
    """``(answer, contexts, question)`` the groundedness scorer reads for this answer, or None when it is not
    scored (a declined or blocked answer, an external target with nothing to ground against)."""
    contexts, grounded_against = _contexts(example, result)
    external = grounded_against is not None
    if _declined(result) or (external and not contexts):
        return None
    return strip_citations(result.answer), contexts, example.user_input


def score_answer(
    example: GoldenExample, result: Any, parts: BenchComponents, ks: Sequence[int], grounded: Any = None
) -> ItemResult:
    """Score the system's answer to one golden item; ``grounded`` is its groundedness when already scored
    (in a batch), else it is scored here. Questions and answers are stored through ``parts.redact``."""
    # An external target (harness.targets) may return no document ids (then no retrieval metrics).
    contexts, grounded_against = _contexts(example, result)
    retrieval = None
    if example.reference_doc_ids and getattr(result, "doc_ids_returned", True):
        retrieval = retrieval_scores([p.doc_id for p in result.passages], example.reference_doc_ids, ks)
    answer_scores = None
    if example.answerable and example.reference:
        answer_scores = parts.scorer.score(example.reference, strip_citations(result.answer))
    declined = _declined(result)
    faithfulness, unsupported = None, []
    scored_input = groundedness_input(example, result)
    if parts.groundedness is not None and scored_input is not None:
        g = grounded if grounded is not None else parts.groundedness.score(*scored_input)
        faithfulness = g.faithfulness
        unsupported = [
            {
                "claim": parts.redact(c.claim),
                "support": c.support,
                "novel_terms": [parts.redact(t) for t in c.novel_terms],
                "compared_with": parts.redact(c.best_sentence),
            }
            for c in g.unsupported
        ]
    judge_scores = None
    if parts.judge is not None and result.blocked is None:
        judge_scores = parts.judge.score(
            example.user_input,
            strip_citations(result.answer),
            contexts,
            example.reference if example.answerable else None,
        )
    # leak and attack probes compare each answer with the same question answered with the guards off
    unguarded = None
    if parts.planted is not None or parts.canary is not None:
        unguarded = parts.pipeline.answer(example.user_input, guarded=False)
    leaks = None
    if parts.planted is not None:
        prompt, answer = _leaks(parts.planted, result)
        prompt_off, answer_off = _leaks(parts.planted, unguarded)
        leaks = {
            "prompt": prompt,
            "answer": answer,
            "prompt_unguarded": prompt_off,
            "answer_unguarded": answer_off,
        }
    cited = {c.chunk_id for c in result.citations}
    return ItemResult(
        id=example.id,
        user_input=parts.redact(example.user_input),
        answerable=example.answerable,
        tags=example.tags,
        answer=parts.redact(result.answer),
        retrieved=[
            RetrievedRef(
                number=p.number,
                doc_id=p.doc_id,
                chunk_id=p.chunk_id,
                score=p.score,
                text=parts.redact_passage(p.text) if p.text else None,
                cited=p.chunk_id in cited,
            )
            for p in result.passages
        ],
        cited_doc_ids=[c.doc_id for c in result.citations],
        retrieval=retrieval,
        answer_scores=answer_scores,
        timings=result.timings,
        completion_tokens=result.generation.completion_tokens,
        finish_reason=result.generation.finish_reason,
        blocked=result.blocked,
        declined=declined,
        uncited=is_uncited(result.answer),
        faithfulness=faithfulness,
        unsupported_claims=unsupported,
        judge_scores=judge_scores,
        guards=[r.model_dump() for r in result.guard_results],
        leaks=leaks,
        injection=score_attack(parts.canary, example, result, unguarded) if parts.canary else None,
        grounded_against=grounded_against if faithfulness is not None else None,
        unmeasured=list(getattr(result, "unmeasured", [])),
    )


def error_item(
    example: GoldenExample, parts: BenchComponents, exc: BaseException, *, aborts: bool = False
) -> ItemResult:
    return ItemResult(
        id=example.id,
        user_input=parts.redact(example.user_input),
        answerable=example.answerable,
        tags=example.tags,
        error=f"{type(exc).__name__}: {exc}",
        aborts_run=aborts,
    )


def _batches(examples: Sequence[GoldenExample], size: int) -> Iterator[Sequence[GoldenExample]]:
    for start in range(0, len(examples), size):
        yield examples[start : start + size]


def _grounded_batch(
    answered: Sequence[tuple[GoldenExample, Any]], parts: BenchComponents, log: Callable[[str], None]
) -> list[Any]:
    """The groundedness of each answered item, scored together (one embedding call for their claims and
    sentences); None where not scored, or for all if the batch fails (each item is then scored on its own, so
    one bad item fails only itself)."""
    inputs = [groundedness_input(example, answer) for example, answer in answered]
    wanted = [x for x in inputs if x is not None]
    if parts.groundedness is None or len(wanted) < 2:
        return [None] * len(answered)
    try:
        scored = iter(parts.groundedness.score_many(wanted))
    except (HardenError, ValueError, RuntimeError) as exc:
        log(f"groundedness of {len(wanted)} answers failed ({type(exc).__name__}); scoring one at a time")
        return [None] * len(answered)
    return [None if x is None else next(scored) for x in inputs]


def iter_scored(
    examples: Sequence[GoldenExample],
    parts: BenchComponents,
    ks: Sequence[int],
    *,
    batch_size: int = 1,
    score_batch: int = 8,
    log: Callable[[str], None] = lambda _m: None,
) -> Iterator[ItemResult]:
    """Answer and score ``examples`` in order, ``batch_size`` questions at a time (one batched call to the
    system under test per batch). With a groundedness scorer, the groundedness of ``max(score_batch,
    batch_size)`` answered items is scored together (one embedding call), so an interrupted run has up to
    ``score_batch - 1`` answered but unscored items to answer again on resume. An item that fails is yielded
    with its error; a :class:`BackendUnavailable` yields the failing item with ``aborts_run`` set and ends
    the iteration."""
    chunk = max(score_batch, batch_size) if parts.groundedness is not None else batch_size
    answered: list[tuple[GoldenExample, Any]] = []
    for item in _answered(examples, parts, batch_size, log):
        if not isinstance(item, ItemResult):
            answered.append(item)
            if len(answered) < chunk:
                continue
        # a full batch, or an item that could not be answered: the ones before it first, in order
        failed = [item] if isinstance(item, ItemResult) else []
        for scored in chain(_scored(answered, parts, ks, log), failed):
            yield scored
            if scored.aborts_run:
                return
        answered = []
    yield from _scored(answered, parts, ks, log)


def _scored(
    answered: Sequence[tuple[GoldenExample, Any]],
    parts: BenchComponents,
    ks: Sequence[int],
    log: Callable[[str], None],
) -> Iterator[ItemResult]:
    """Score answered items in order; a :class:`BackendUnavailable` (a leak or attack probe asks the
    system again) yields the failing item with ``aborts_run`` set and ends the iteration."""
    for (example, answer), grounded in zip(answered, _grounded_batch(answered, parts, log), strict=True):
        try:
            yield score_answer(example, answer, parts, ks, grounded)
        except BackendUnavailable as exc:
            yield error_item(example, parts, exc, aborts=True)
            return
        except (HardenError, ValueError, RuntimeError) as exc:
            log(f"item {example.id}: {type(exc).__name__}: {exc}")
            yield error_item(example, parts, exc)


def _answered(
    examples: Sequence[GoldenExample], parts: BenchComponents, batch_size: int, log: Callable[[str], None]
) -> Iterator[tuple[GoldenExample, Any] | ItemResult]:
    """Each example with the system's answer, in order, or the error item of one that could not be answered
    (with ``aborts_run`` set, and the last, when the backend is unreachable)."""
    for batch in _batches(examples, batch_size):
        try:
            answers = (
                [parts.pipeline.answer(batch[0].user_input)]
                if len(batch) == 1
                else parts.pipeline.answer_many([e.user_input for e in batch])
            )
        except BackendUnavailable as exc:
            yield error_item(batch[0], parts, exc, aborts=True)
            return
        except (HardenError, ValueError, RuntimeError) as exc:
            if len(batch) > 1:  # answer one by one, so one bad item does not fail its batch
                log(f"batch of {len(batch)} failed ({type(exc).__name__}); answering one at a time")
                for one in _answered(batch, parts, 1, log):
                    yield one
                    if isinstance(one, ItemResult) and one.aborts_run:
                        return
                continue
            log(f"item {batch[0].id}: {type(exc).__name__}: {exc}")
            yield error_item(batch[0], parts, exc)
            continue
        yield from zip(batch, answers, strict=True)


__all__ = [
    "AnswersPipeline",
    "BenchComponents",
    "error_item",
    "groundedness_input",
    "iter_scored",
    "score_answer",
    "score_item",
]
