"""Run a scenario's golden set through the pipeline and score it: the core of ``rag-harden bench``.

Each item is written to ``items.jsonl`` as soon as it is scored, so an interrupted or crashed run keeps
what it scored. A failing item is recorded with its error and the run goes on; a backend that becomes
unreachable stops the scenario (every later item would fail the same way) and the report says why.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from harness.config import Scenario
from harness.errors import BackendUnavailable, ConfigError, HardenError
from harness.eval.abstention import is_declined, is_uncited
from harness.eval.answers import ANSWER_METRICS
from harness.eval.latency import summarize
from harness.eval.leaks import PlantedValues
from harness.eval.retrieval import metric_ks, retrieval_scores
from harness.golden import GoldenExample, load_golden_set
from harness.pipeline.index_store import IndexStatus
from harness.results import AssertResult, ItemResult, RetrievedRef, ScenarioResult

STAGES = ("embed", "search", "generate", "total", "guard_query", "guard_context", "guard_answer")
LEAK_METRICS = ("rate", "prompt_rate", "answer_rate")
# Computed by `rag-harden load` (bench/load), not by bench: bench leaves asserts on them to the load command.
LOAD_METRICS = ("p50_ms", "p95_ms", "p99_ms", "error_rate", "goodput", "offered_rps", "achieved_rps",
                "answer.semantic_similarity", "ttft_p50_ms", "ttft_p95_ms")
HALLUCINATION_METRICS = (
    "groundedness.faithfulness_mean", "hallucination.unsupported_rate", "hallucination.answered_unanswerable_rate",
    "abstention.unanswerable_declined_rate", "abstention.answerable_declined_rate", "abstention.uncited_rate",
)
_CITATION_MARK = re.compile(r"\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\]")


class AnswersPipeline(Protocol):
    def answer(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> Any: ...


class ScoresAnswers(Protocol):
    def score(self, reference: str, response: str) -> dict[str, float]: ...


class ScoresGroundedness(Protocol):
    def score(self, answer: str, passages: Sequence[str], question: str = "") -> Any: ...


class Progress(Protocol):
    def advance(self) -> None: ...


@dataclass(frozen=True)
class BenchComponents:
    """What scoring a scenario needs, as composed by :func:`harness.compose.build_for_bench` (or a test)."""

    pipeline: AnswersPipeline
    scorer: ScoresAnswers
    description: dict[str, Any] = field(default_factory=dict)
    index_status: IndexStatus | None = None
    redact: Callable[[str], str] = field(default=lambda text: text)
    planted: PlantedValues | None = None
    extra_metrics: dict[str, float] = field(default_factory=dict)  # scenario-level figures (injection probes)
    groundedness: ScoresGroundedness | None = None
    judge: Any = None  # harness.eval.judge.JudgeScorer when the scenario configures a judge


def available_metrics(scenario: Scenario) -> list[str]:
    """Every metric name a run of ``scenario`` reports, and so every name an assert may use."""
    ks = metric_ks(scenario.pipeline.retriever.top_k)
    names = [f"retrieval.{m}@{k}" for k in ks for m in ("hit", "recall")] + ["retrieval.mrr"]
    names += [f"answer.{m}" for m in ANSWER_METRICS]
    names += [f"latency.{s}.{p}_ms" for s in STAGES for p in ("p50", "p95", "p99", "mean")]
    names += ["run.error_rate", "run.items_scored", "guard.blocked_rate", "guard.flagged_rate"]
    names += [f"{m}" for m in HALLUCINATION_METRICS]
    if scenario.leak_probe is not None:
        names += [f"leak.{m}{suffix}" for m in LEAK_METRICS for suffix in ("", "_unguarded")]
    if scenario.judge is not None:
        names += [f"judge.{m}" for m in scenario.judge.metrics]
    if scenario.load is not None:
        names += [f"load.{m}" for m in LOAD_METRICS]
    if scenario.injection_probe is not None:
        names += ["injection.detection_rate", "injection.false_positive_rate", "injection.attacks", "injection.benign"]
    return names


def check_asserts_known(scenario: Scenario, path: Path | str) -> None:
    known = set(available_metrics(scenario))
    for i, a in enumerate(scenario.asserts):
        if a.metric not in known:
            raise ConfigError(
                f"{path}: field 'asserts.{i}.metric': unknown metric {a.metric!r}; valid: {', '.join(sorted(known))}"
            )


def strip_citations(text: str) -> str:
    """Remove ``[n]`` markers so answer metrics compare the prose with the reference, not the citations."""
    return _CITATION_MARK.sub("", text).strip()


def _leaks(planted: PlantedValues, answer: Any) -> tuple[list[str], list[str]]:
    prompt = "\n".join(m["content"] for m in answer.messages)
    return planted.found_in(prompt), planted.found_in(answer.answer)


def score_item(example: GoldenExample, parts: BenchComponents, ks: Sequence[int]) -> ItemResult:
    """Answer one golden item and score it. Questions and answers are stored through ``parts.redact``."""
    result = parts.pipeline.answer(example.user_input)
    retrieval = None
    if example.reference_doc_ids:
        retrieval = retrieval_scores([p.doc_id for p in result.passages], example.reference_doc_ids, ks)
    answer_scores = None
    if example.answerable and example.reference:
        answer_scores = parts.scorer.score(example.reference, strip_citations(result.answer))
    declined = is_declined(result.answer) or result.blocked is not None
    faithfulness, unsupported = None, []
    if parts.groundedness is not None and not declined:
        g = parts.groundedness.score(strip_citations(result.answer), [p.text for p in result.passages],
                                     example.user_input)
        faithfulness = g.faithfulness
        unsupported = [{"claim": parts.redact(c.claim), "support": c.support,
                        "novel_terms": [parts.redact(t) for t in c.novel_terms],
                        "compared_with": parts.redact(c.best_sentence)} for c in g.unsupported]
    judge_scores = None
    if parts.judge is not None and result.blocked is None:
        judge_scores = parts.judge.score(example.user_input, strip_citations(result.answer),
                                         [p.text for p in result.passages],
                                         example.reference if example.answerable else None)
    leaks = None
    if parts.planted is not None:
        prompt, answer = _leaks(parts.planted, result)
        prompt_off, answer_off = _leaks(parts.planted, parts.pipeline.answer(example.user_input, guarded=False))
        leaks = {"prompt": prompt, "answer": answer, "prompt_unguarded": prompt_off, "answer_unguarded": answer_off}
    return ItemResult(
        id=example.id, user_input=parts.redact(example.user_input), answerable=example.answerable, tags=example.tags,
        answer=parts.redact(result.answer),
        retrieved=[RetrievedRef(number=p.number, doc_id=p.doc_id, chunk_id=p.chunk_id, score=p.score)
                   for p in result.passages],
        cited_doc_ids=[c.doc_id for c in result.citations], retrieval=retrieval, answer_scores=answer_scores,
        timings=result.timings, completion_tokens=result.generation.completion_tokens,
        finish_reason=result.generation.finish_reason, blocked=result.blocked, declined=declined,
        uncited=is_uncited(result.answer), faithfulness=faithfulness, unsupported_claims=unsupported,
        judge_scores=judge_scores,
        guards=[r.model_dump() for r in result.guard_results], leaks=leaks,
    )


def _mean(values: Iterable[float]) -> float | None:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else None


def aggregate(items: Sequence[ItemResult], scenario: Scenario) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Pure: the metrics and per-stage latency stats of a list of scored items."""
    ks = metric_ks(scenario.pipeline.retriever.top_k)
    ok = [it for it in items if it.error is None]
    metrics: dict[str, float | None] = {}
    with_retrieval = [it.retrieval for it in ok if it.retrieval is not None]
    for k in ks:
        for m in ("hit", "recall"):
            metrics[f"retrieval.{m}@{k}"] = _mean(r[f"{m}@{k}"] for r in with_retrieval)
    metrics["retrieval.mrr"] = _mean(r["mrr"] for r in with_retrieval)
    with_answers = [it.answer_scores for it in ok if it.answer_scores is not None]
    for m in ANSWER_METRICS:
        metrics[f"answer.{m}"] = _mean(s[m] for s in with_answers)
    latency = {}
    for stage in STAGES:
        stats = summarize([getattr(it.timings, f"{stage}_ms") for it in ok if it.timings is not None])
        latency[stage] = stats
        for p in ("p50", "p95", "p99", "mean"):
            metrics[f"latency.{stage}.{p}_ms"] = getattr(stats, f"{p}_ms")
    metrics.update(hallucination_metrics(ok, scenario.hallucination.faithfulness_threshold))
    if scenario.judge is not None:
        for name in scenario.judge.metrics:
            metrics[f"judge.{name}"] = _mean(it.judge_scores.get(name) for it in ok if it.judge_scores)
    metrics["guard.blocked_rate"] = sum(1 for it in ok if it.blocked) / len(ok) if ok else None
    metrics["guard.flagged_rate"] = (sum(1 for it in ok if any(g["findings"] for g in it.guards)) / len(ok)
                                     if ok else None)
    with_leaks = [it.leaks for it in ok if it.leaks is not None]
    if scenario.leak_probe is not None:
        n = len(with_leaks)
        for suffix in ("", "_unguarded"):
            prompts = sum(1 for lk in with_leaks if lk[f"prompt{suffix}"])
            answers = sum(1 for lk in with_leaks if lk[f"answer{suffix}"])
            metrics[f"leak.rate{suffix}"] = (prompts + answers) / (2 * n) if n else None
            metrics[f"leak.prompt_rate{suffix}"] = prompts / n if n else None
            metrics[f"leak.answer_rate{suffix}"] = answers / n if n else None
    metrics["run.error_rate"] = (len(items) - len(ok)) / len(items) if items else None
    metrics["run.items_scored"] = float(len(ok))
    return metrics, latency


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


def hallucination_metrics(items: Sequence[ItemResult], threshold: float) -> dict[str, float | None]:
    """Unsupported answers and answered-unanswerable items, counted separately."""
    answerable = [it for it in items if it.answerable]
    unanswerable = [it for it in items if not it.answerable]
    answered = [it for it in answerable if not it.declined and it.faithfulness is not None]
    return {
        "groundedness.faithfulness_mean": _mean(it.faithfulness for it in answered),
        "hallucination.unsupported_rate": _rate(sum(1 for it in answered if it.faithfulness < threshold), len(answered)),
        "hallucination.answered_unanswerable_rate": _rate(sum(1 for it in unanswerable if not it.declined),
                                                          len(unanswerable)),
        "abstention.unanswerable_declined_rate": _rate(sum(1 for it in unanswerable if it.declined), len(unanswerable)),
        "abstention.answerable_declined_rate": _rate(sum(1 for it in answerable if it.declined), len(answerable)),
        "abstention.uncited_rate": _rate(sum(1 for it in items if not it.declined and it.uncited),
                                         sum(1 for it in items if not it.declined)),
    }


def evaluate_asserts(scenario: Scenario, metrics: dict[str, float | None], *, load: bool = False) -> list[AssertResult]:
    """The scenario's asserts on the golden-set run, or (``load=True``) on the load phase's `load.*` metrics."""
    return [AssertResult(metric=a.metric, min=a.min, max=a.max, value=metrics.get(a.metric),
                         passed=a.check(metrics.get(a.metric))) for a in scenario.asserts
            if a.metric.startswith("load.") == load]


def run_scenario(
    scenario: Scenario,
    scenario_path: Path,
    out_dir: Path,
    *,
    build: Callable[[Scenario], BenchComponents],
    limit: int | None = None,
    progress: Callable[[int], AbstractContextManager[Progress | None]] = lambda n: nullcontext(None),
    log: Callable[[str], None] = lambda _m: None,
) -> ScenarioResult:
    """Score ``scenario`` and return its result; ``items.jsonl`` under ``out_dir`` grows item by item.

    ``build`` composes the pipeline and scorer (the CLI passes the real one; tests may pass fakes).
    A ``KeyboardInterrupt`` ends the loop and is re-raised after the partial result is stored on the
    exception as ``partial_result``, so the caller can still write the report.
    """
    check_asserts_known(scenario, scenario_path)
    examples = load_golden_set(scenario.golden_set)
    if limit is not None:
        examples = examples[:limit]
    out_dir.mkdir(parents=True, exist_ok=True)
    items_path = out_dir / "items.jsonl"
    started = time.time()
    result = ScenarioResult(
        name=scenario.name, description=scenario.description, scenario_path=str(scenario_path),
        scenario_hash=scenario.fingerprint(), golden_set=str(scenario.golden_set),
        started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)), n_items=len(examples),
        items_file=str(items_path),
    )
    parts = build(scenario)
    result.pipeline, result.index = parts.description, parts.index_status
    ks = metric_ks(scenario.pipeline.retriever.top_k)
    items: list[ItemResult] = []
    interrupted: BaseException | None = None
    with open(items_path, "a", encoding="utf-8") as sink, progress(len(examples)) as bar:
        for example in examples:
            try:
                item = score_item(example, parts, ks)
            except BackendUnavailable as exc:
                item = ItemResult(id=example.id, user_input=parts.redact(example.user_input),
                                  answerable=example.answerable, tags=example.tags,
                                  error=f"BackendUnavailable: {exc}")
                result.aborted = str(exc)  # names the endpoint; messages come from our code, not from user text
            except (HardenError, ValueError, RuntimeError) as exc:
                message = f"{type(exc).__name__}: {exc}"
                item = ItemResult(id=example.id, user_input=parts.redact(example.user_input),
                                  answerable=example.answerable, tags=example.tags, error=message)
                log(f"item {example.id}: {message}")
            except KeyboardInterrupt as exc:
                interrupted = exc
                result.aborted = "interrupted"
                break
            items.append(item)
            sink.write(item.model_dump_json() + "\n")
            sink.flush()
            if bar is not None:
                bar.advance()
            if result.aborted:
                break
    result.n_scored = len(items)
    result.n_errors = sum(1 for it in items if it.error)
    result.complete = result.aborted is None and len(items) == len(examples)
    result.metrics, result.latency = aggregate(items, scenario)
    result.metrics.update(parts.extra_metrics)
    result.asserts = evaluate_asserts(scenario, result.metrics)
    result.passed = result.complete and all(a.passed for a in result.asserts)
    result.finished_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    result.duration_s = round(time.time() - started, 3)
    if interrupted is not None:
        interrupted.partial_result = result  # type: ignore[attr-defined]
        raise interrupted
    return result


__all__ = ["BenchComponents", "aggregate", "available_metrics", "check_asserts_known", "evaluate_asserts", "run_scenario",
           "score_item", "strip_citations"]
