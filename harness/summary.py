"""One pure function turns scored items (and the load phase's and probes' figures) into a scenario's result,
and
decides ``passed`` once. No I/O, no clock: what it needs from the run comes in :class:`ScenarioMeta`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from harness.config import Scenario
from harness.eval.groundedness_domain import groundedness_domain_check
from harness.metrics import aggregate_items
from harness.pipeline.index_store import IndexStatus
from harness.results import AssertResult, ItemResult, ScenarioResult
from harness.targets.availability import unavailable_metrics


class ScenarioMeta(BaseModel):
    """What a scenario's result states about the run itself (not derived from the items)."""

    name: str
    description: str = ""
    scenario_path: str
    scenario_hash: str
    golden_set: str
    started_at: str
    n_items: int
    items_file: str
    index: IndexStatus | None = None
    pipeline: dict[str, Any] = {}


def unique_items(items: Sequence[ItemResult]) -> list[ItemResult]:
    """One item per id, the last scored winning (a resumed run re-scores the items that had errors)."""
    by_id: dict[str, ItemResult] = {}
    for item in items:
        by_id.pop(item.id, None)
        by_id[item.id] = item
    return list(by_id.values())


def evaluate_asserts(
    scenario: Scenario, metrics: Mapping[str, float | None], unavailable: Mapping[str, str] | None = None
) -> list[AssertResult]:
    """Each assert checked; one on a metric without a value fails, with the reason when it is known."""
    reasons = unavailable or {}
    return [
        AssertResult(
            metric=a.metric,
            min=a.min,
            max=a.max,
            value=metrics.get(a.metric),
            passed=a.check(metrics.get(a.metric)),
            reason=reasons.get(a.metric) if a.metric in metrics or a.metric in reasons else None,
        )
        for a in scenario.asserts
    ]


def summarize_scenario(
    scenario: Scenario,
    meta: ScenarioMeta,
    items: Sequence[ItemResult],
    *,
    probe_metrics: Mapping[str, float] | None = None,
    load_metrics: Mapping[str, float | None] | None = None,
    aborted: str | None = None,
    finished_at: str | None = None,
    duration_s: float | None = None,
) -> ScenarioResult:
    """The scenario's result: metrics from the catalogue, every assert checked, ``passed`` decided here only.

    A run is complete when every golden item was scored and nothing stopped it early; an incomplete run
    never passes."""
    items = unique_items(items)
    if aborted is None:
        aborted = next((it.error for it in items if it.aborts_run), None)
    metrics, latency = aggregate_items(items, scenario)
    metrics.update(probe_metrics or {})
    metrics.update(
        {f"load.{k}" if not k.startswith("load.") else k: v for k, v in (load_metrics or {}).items()}
    )
    unavailable = unavailable_metrics(scenario, metrics, items)
    asserts = evaluate_asserts(scenario, metrics, unavailable)
    scored_answers = [it.answer for it in items if it.faithfulness is not None and it.answer]
    domain, warnings = groundedness_domain_check(scenario.hallucination, scored_answers)
    complete = aborted is None and len(items) == meta.n_items
    return ScenarioResult(
        **meta.model_dump(exclude={"index"}),
        index=meta.index,
        finished_at=finished_at,
        duration_s=duration_s,
        n_scored=len(items),
        n_errors=sum(1 for it in items if it.error),
        complete=complete,
        aborted=aborted,
        metrics=metrics,
        latency=latency,
        asserts=asserts,
        passed=complete and all(a.passed for a in asserts),
        unavailable=unavailable,
        calibration_domain=domain,
        warnings=warnings,
    )


__all__ = ["ScenarioMeta", "evaluate_asserts", "summarize_scenario", "unique_items"]
