"""The launch gates of a scenario, per area, with a one-line reason written from the scored items.

Pure: a :class:`ScenarioResult` and its items in, typed :class:`AreaGate` rows out. The HTML report, the
Markdown summary and ``compare`` all read these, so a verdict and its explanation are written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.metrics import ItemContext, direction, group_of, item_value, spec_for
from harness.results import AssertResult, BenchReport, ItemResult, ScenarioResult

Status = Literal["PASS", "FAIL", "not measured", "no threshold"]

# The report's areas, in order: (key, title, metric groups, what measures it when absent).
AREAS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("retrieval", "Retrieval", ("retrieval",), "golden items with reference_doc_ids"),
    ("answer", "Answer quality", ("answer", "judge"), "golden items with reference answers"),
    (
        "groundedness",
        "Groundedness and hallucination",
        ("groundedness", "hallucination"),
        "answered golden items",
    ),
    ("abstention", "Abstention", ("abstention",), "golden items, answerable or not"),
    ("pii", "PII leaks", ("leak", "guard"), "a leak_probe block"),
    ("injection", "Prompt injection", ("injection",), "an injection_probe block"),
    ("latency", "Latency SLOs under load", ("latency", "load"), "a load block"),
    ("gpu", "GPU headroom", ("gpu",), "a gpu block"),
    ("run", "Run", ("run",), "scored items"),
)
# Metrics shown as rows (without a threshold) when an area has no assert of its own.
HEADLINE = {
    "retrieval": ("retrieval.hit@5", "retrieval.mrr"),
    "answer": ("answer.semantic_similarity",),
    "groundedness": ("groundedness.faithfulness_mean", "hallucination.unsupported_rate"),
    "abstention": ("abstention.unanswerable_declined_rate", "abstention.answerable_declined_rate"),
    "pii": ("leak.rate", "leak.rate_unguarded", "guard.flagged_rate"),
    "injection": ("injection.detection_rate", "injection.false_positive_rate"),
    "latency": ("latency.total.p95_ms", "load.p95_ms", "load.achieved_rps"),
    "gpu": (),
    "run": ("run.error_rate",),
}
MAX_IDS = 6


@dataclass(frozen=True)
class GateRow:
    metric: str
    status: Status
    value: float | None
    threshold: str
    reason: str
    item_ids: tuple[str, ...] = ()
    asserted: bool = False  # the row is one of the scenario's asserts (unmeasured, it fails the run)


@dataclass(frozen=True)
class AreaGate:
    key: str
    title: str
    rows: tuple[GateRow, ...]
    measured: bool
    note: str = ""

    @property
    def status(self) -> Status:
        statuses = {r.status for r in self.rows}
        if "FAIL" in statuses or any(r.asserted and r.status == "not measured" for r in self.rows):
            return "FAIL"  # an assert on a metric the run could not measure fails, as the verdict does
        if "PASS" in statuses:
            return "PASS"
        return "no threshold" if self.measured else "not measured"


@dataclass
class FlaggedItem:
    item: ItemResult
    kinds: list[str] = field(default_factory=list)


def fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}"


def threshold_of(a: AssertResult) -> str:
    parts = [f">= {a.min:g}" if a.min is not None else "", f"<= {a.max:g}" if a.max is not None else ""]
    return " and ".join(p for p in parts if p)


def faithfulness_threshold(s: ScenarioResult) -> float:
    hall = s.pipeline.get("hallucination") if isinstance(s.pipeline, dict) else None
    if isinstance(hall, dict) and isinstance(hall.get("faithfulness_threshold"), (int, float)):
        return float(hall["faithfulness_threshold"])
    return ItemContext().faithfulness_threshold


def _top_k(s: ScenarioResult) -> int:
    k = s.pipeline.get("retriever", {}).get("top_k", 5) if isinstance(s.pipeline, dict) else 5
    return int(k) if isinstance(k, int) else 5


# --- per item -----------------------------------------------------------------------------------------------


def failure_kinds(item: ItemResult, thr: float, top_k: int = 5) -> list[str]:
    """Why an item is failing or flagged (empty: it passes). Kinds are short, stable labels for filtering."""
    if item.error:
        return ["error"]
    kinds = []
    if item.blocked:
        kinds.append("blocked")
    if not item.answerable and not item.declined:
        kinds.append("answered unanswerable")
    if item.answerable and item.declined and not item.blocked:
        kinds.append("declined answerable")
    if (
        item.faithfulness is not None
        and (item.faithfulness < thr or item.unsupported_claims)
        and item.answerable
    ):
        kinds.append("unsupported")
    if item.retrieval is not None:
        hits = {int(k[4:]): v for k, v in item.retrieval.items() if k.startswith("hit@")}
        k = max((x for x in hits if x <= top_k), default=None)
        if k is not None and hits[k] == 0:
            kinds.append("retrieval miss")
    if item.leaks and any(item.leaks.get(w) for w in ("prompt", "answer")):
        kinds.append("leak")
    if any(g.get("findings") for g in item.guards):
        kinds.append("guard finding")
    return kinds


# Failing gates whose items already carry a kind of their own: the item is not labelled twice.
_ROW_KINDS = {
    "groundedness.faithfulness_mean": "unsupported",
    "hallucination.unsupported_rate": "unsupported",
    "hallucination.answered_unanswerable_rate": "answered unanswerable",
    "abstention.unanswerable_declined_rate": "answered unanswerable",
    "abstention.answerable_declined_rate": "declined answerable",
    "run.error_rate": "error",
}


def _row_kind(metric: str) -> str:
    if metric in _ROW_KINDS:
        return _ROW_KINDS[metric]
    group = group_of(metric)
    if group == "retrieval":
        return "retrieval miss"
    if group in ("answer", "judge"):
        return "low answer score"
    return "below " + metric


def flagged_items(
    s: ScenarioResult, items: Sequence[ItemResult], gates: Sequence[AreaGate] | None = None
) -> list[FlaggedItem]:
    """Every item with a failure kind, plus the items a failing gate names (e.g. answers below the bound)."""
    thr, k = faithfulness_threshold(s), _top_k(s)
    named: dict[str, list[str]] = {}
    for gate in gates if gates is not None else area_gates(s, items):
        for row in gate.rows:
            if row.status == "FAIL":
                for i in row.item_ids:
                    named.setdefault(i, []).append(_row_kind(row.metric))
    out = []
    for it in items:
        kinds = failure_kinds(it, thr, k)
        kinds += [x for x in dict.fromkeys(named.get(it.id, [])) if x not in kinds]
        if kinds:
            out.append(FlaggedItem(it, kinds))
    return out


# --- reasons ------------------------------------------------------------------------------------------------

# metric -> (population, what a bad item did); a bad item is one whose value is the worse end (or below the
# assert's bound for continuous scores).
_PHRASES = {
    "retrieval.hit": ("items", "had no reference document among the first {k} passages"),
    "retrieval.recall": ("items", "missed a reference document in the first {k} passages"),
    "retrieval.mrr": ("items", "did not rank a reference document first"),
    "answer": ("answers", "scored below {bound}"),
    "judge": ("answers", "scored below {bound}"),
    "groundedness.faithfulness_mean": ("answered questions", "fall below the faithfulness threshold {thr:g}"),
    "hallucination.unsupported_rate": ("answered questions", "are not supported by their passages"),
    "hallucination.answered_unanswerable_rate": (
        "unanswerable questions",
        "were answered: the generator does not decline",
    ),
    "abstention.unanswerable_declined_rate": ("unanswerable questions", "were answered instead of declined"),
    "abstention.answerable_declined_rate": ("answerable questions", "were declined"),
    "abstention.uncited_rate": ("answers", "cite no passage"),
    "leak": ("items", "carried a planted personal value"),
    "guard.blocked_rate": ("items", "were blocked by a guard"),
    "guard.flagged_rate": ("items", "had a guard finding"),
    "run.error_rate": ("items", "failed with an error"),
}


def _phrase(metric: str) -> tuple[str, str] | None:
    for key in (metric, metric.split("@")[0], metric.split(".")[0]):
        if key in _PHRASES:
            return _PHRASES[key]
    return None


def _see(ids: Sequence[str]) -> str:
    if not ids:
        return ""
    more = " ..." if len(ids) > MAX_IDS else ""
    return "; see items " + ", ".join(ids[:MAX_IDS]) + more


def _latency_reason(metric: str, s: ScenarioResult) -> str:
    stage = metric.split(".")[1]
    stat = metric.split(".")[2].removesuffix("_ms")
    st = s.latency.get(stage)
    if st is None or not st.n:
        return "no latency samples"
    slow = max(
        ((k, v.p95_ms or 0.0) for k, v in s.latency.items() if k != "total" and not k.startswith("guard")),
        key=lambda kv: kv[1],
        default=None,
    )
    where = f"; slowest stage {slow[0]} (p95 {fmt(slow[1])} ms)" if slow else ""
    return f"{stat} of {stage} is {fmt(getattr(st, f'{stat}_ms', None))} ms over {st.n} items{where}"


def reason(
    metric: str,
    value: float | None,
    s: ScenarioResult,
    items: Sequence[ItemResult],
    bound: float | None = None,
) -> tuple[str, tuple[str, ...]]:
    """A one-line explanation of ``metric``'s value, naming the items behind it."""
    spec = spec_for(metric)
    if value is None:
        if spec is None:
            return "not measured: the run reported no value", ()
        return (
            "not measured: no scored item counts towards it "
            f"({spec.description[0].lower()}{spec.description[1:]})",
            (),
        )
    if group_of(metric) == "latency":
        return _latency_reason(metric, s), ()
    if spec is None or spec.source != "items" or spec.item_value is None:
        return (spec.description if spec else metric), ()
    thr = faithfulness_threshold(s)
    ctx = ItemContext(faithfulness_threshold=thr)
    values = [(it.id, v) for it in items if (v := item_value(it, metric, ctx)) is not None]
    if not values:
        return "no item counted towards this metric", ()
    lower = direction(metric) != "higher"  # a flag rate ("none") counts its flagged items
    binary = all(v in (0.0, 1.0) for _i, v in values)
    if binary:
        bad = [i for i, v in values if v == (1.0 if lower else 0.0)]
    elif metric == "groundedness.faithfulness_mean":
        bad = [i for i, v in values if v < thr]
    elif metric.startswith("leak."):
        bad = [i for i, v in values if v > 0]
    else:
        cut = bound if bound is not None else (1.0 if metric.startswith("retrieval.") else None)
        bad = [i for i, v in values if cut is not None and (v > cut if lower else v < cut)]
    phrase = _phrase(metric)
    if phrase is None:
        return f"{spec.description} ({len(values)} items)", tuple(bad)
    population, did = phrase
    k = metric.split("@")[1] if "@" in metric else ""
    text = did.format(k=k, thr=thr, bound=fmt(bound) if bound is not None else "the bound")
    return f"{len(bad)} of {len(values)} {population} {text}{_see(bad)}", tuple(bad)


# --- areas --------------------------------------------------------------------------------------------------


def area_gates(s: ScenarioResult, items: Sequence[ItemResult]) -> list[AreaGate]:
    """One gate per area (GPU only when measured): the scenario's asserts in it, else its headline figures."""
    gates = []
    for key, title, groups, needs in AREAS:
        asserts = [a for a in s.asserts if group_of(a.metric) in groups]
        present = [m for m, v in s.metrics.items() if group_of(m) in groups and v is not None]
        if key == "gpu" and not present and not asserts:
            continue
        rows = []
        for a in asserts:
            bound = a.min if a.min is not None else a.max
            text, ids = reason(a.metric, a.value, s, items, bound)
            status: Status = "not measured" if a.value is None else ("PASS" if a.passed else "FAIL")
            rows.append(GateRow(a.metric, status, a.value, threshold_of(a), text, ids, asserted=True))
        if not asserts:
            shown = [m for m in HEADLINE.get(key, ()) if s.metrics.get(m) is not None] or present[:3]
            for m in shown:
                text, ids = reason(m, s.metrics[m], s, items)
                rows.append(GateRow(m, "no threshold", s.metrics[m], "none", text, ids))
        article, _, rest = needs.partition(" ")
        note = (
            ""
            if present
            else (f"this scenario has no {rest}" if article in ("a", "an") else f"needs {needs}")
        )
        gates.append(AreaGate(key, title, tuple(rows), bool(present), note))
    return gates


def load_items(report: BenchReport, run_dir: Path | None) -> dict[str, list[ItemResult]]:
    """The scored items of each scenario of a run folder (empty lists when the folder is unknown)."""
    if run_dir is None:
        return {s.name: [] for s in report.scenarios}
    from harness.flow import read_items

    return {s.name: read_items(run_dir / s.name / "items.jsonl") for s in report.scenarios}


__all__ = [
    "AREAS",
    "AreaGate",
    "FlaggedItem",
    "GateRow",
    "area_gates",
    "failure_kinds",
    "flagged_items",
    "fmt",
    "load_items",
    "reason",
    "threshold_of",
]
