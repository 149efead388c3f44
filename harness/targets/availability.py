"""Which metrics a run could not compute, and why: an external target returns only what it returns.

:func:`unavailable_metrics` maps each metric with no value to a reason;
:func:`harness.summary.summarize_scenario` puts it in ``ScenarioResult.unavailable`` and on every assert that
names the metric (such an assert fails).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.config import Scenario
    from harness.results import ItemResult


def _reason(name: str, scenario: Scenario, items: Sequence[ItemResult]) -> str:
    target = scenario.target
    kind = target.kind if target is not None else "pipeline"
    group = name.split(".", 1)[0]
    scored = [it for it in items if it.error is None]
    if not scored:
        return "no item was scored without an error"
    if group == "retrieval":
        if kind == "openai":
            return "the target is a closed-book chat endpoint: it retrieves nothing"
        if kind == "http" and getattr(getattr(target, "paths", None), "doc_ids", None) is None:
            return "the target returns no document ids (set target.paths.doc_ids)"
        return "no scored item has reference_doc_ids and returned document ids"
    if group == "latency":
        stage = name.split(".")[1]
        if all(stage in it.unmeasured for it in scored):
            return (
                f"the target does not report the {stage} stage (no Server-Timing entry for it); "
                "latency.total is measured client-side"
            )
    if group in ("groundedness", "hallucination") and name != "hallucination.answered_unanswerable_rate":
        if kind != "pipeline" and not any(it.faithfulness is not None for it in scored):
            return (
                "no answered item could be scored for groundedness: the target returned no contexts and the "
                "golden items have no reference_contexts"
            )
        return "no answerable item was answered (all declined or blocked)"
    if group == "leak" and "answer_rate" not in name and all("prompt" in it.unmeasured for it in scored):
        return "the target's prompt is not visible from outside: only leak.answer_rate is measured"
    if name.startswith("injection.attack_success_rate"):
        return (
            "no golden item's retrieval brought a planted instruction along: index the canary documents into "
            "the system under test and ask the canary golden set's questions"
        )
    if name.startswith("injection.direct_success_rate"):
        return "no attack probe of injection_probe.probes was answered without an error"
    if group == "answer":
        return "no answerable item with a reference answer was scored"
    if group == "abstention" or name == "hallucination.answered_unanswerable_rate":
        return "the golden set has no item of the kind this rate counts"
    return "no scored item gave a value"


def unavailable_metrics(
    scenario: Scenario, metrics: Mapping[str, float | None], items: Sequence[ItemResult]
) -> dict[str, str]:
    """Every metric of ``metrics`` without a value, with the reason."""
    return {
        name: _reason(name, scenario, items)
        for name, value in metrics.items()
        if value is None or value != value
    }


__all__ = ["unavailable_metrics"]
