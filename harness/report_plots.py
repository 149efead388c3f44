"""The report's plots: matplotlib (Agg backend, text kept as text) to inline SVG, offline. Each function
returns ``(svg, caption)`` or None when the run holds nothing to plot; the caption states
the figures in words."""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from harness.metrics import STAGES
from harness.report_gates import fmt
from harness.report_load import LoadTimeline
from harness.results import ItemResult, ScenarioResult

Plot = tuple[str, str]
_COLORS = ("#3465a4", "#c4a000", "#4e9a06", "#ce5c00", "#75507b", "#cc0000", "#555753")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",
            "font.size": 8,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "rag-harden",
        }
    )
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    _plt().close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return re.sub(r"\s*\n\s*", "\n", text)


def _fig(width: float = 4.6, height: float = 2.4) -> tuple[Any, Any]:
    return _plt().subplots(figsize=(width, height))  # type: ignore[no-any-return]


def latency_by_stage(items: Sequence[ItemResult]) -> Plot | None:
    timed = [it.timings for it in items if it.timings is not None]
    if not timed:
        return None
    # stages that did something (a guard stage with no guard runs in microseconds)
    stages = [st for st in STAGES if max(getattr(t, f"{st}_ms") for t in timed) >= 0.05]
    data = [[max(getattr(t, f"{st}_ms"), 1e-3) for t in timed] for st in stages]
    fig, ax = _fig(4.6, 0.35 * len(stages) + 0.8)
    ax.boxplot(data, orientation="horizontal", tick_labels=stages, showfliers=True, widths=0.6)
    ax.set_xscale("log")
    lo, hi = min(min(d) for d in data), max(max(d) for d in data)
    ticks = [10.0**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    ax.minorticks_off()  # fixed decade ticks, plain labels: the automatic log locator and mathtext are slow
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel("ms per item (log scale)")
    medians = ", ".join(f"{st} {fmt(sorted(d)[len(d) // 2])} ms" for st, d in zip(stages, data, strict=True))
    return _svg(fig), f"Latency per stage over {len(timed)} items (box: quartiles; median {medians})."


def faithfulness(items: Sequence[ItemResult], threshold: float) -> Plot | None:
    values = [it.faithfulness for it in items if it.faithfulness is not None and it.answerable]
    if not values:
        return None
    below = sum(1 for v in values if v < threshold)
    fig, ax = _fig()
    ax.hist(values, bins=20, range=(0, 1), color=_COLORS[0])
    ax.axvline(threshold, color=_COLORS[5], linestyle="--", label=f"threshold {threshold:g}")
    ax.set_xlabel("faithfulness (answered answerable items)")
    ax.set_ylabel("items")
    ax.legend(frameon=False)
    return _svg(
        fig
    ), f"Faithfulness of {len(values)} answered items; {below} below the threshold {threshold:g}."


def hit_at_k(s: ScenarioResult) -> Plot | None:
    pts = sorted(
        (int(m.split("@")[1]), v)
        for m, v in s.metrics.items()
        if m.startswith("retrieval.hit@") and v is not None
    )
    if not pts:
        return None
    rec = sorted(
        (int(m.split("@")[1]), v)
        for m, v in s.metrics.items()
        if m.startswith("retrieval.recall@") and v is not None
    )
    fig, ax = _fig(4.6, 2.4)
    # hit@k drawn wide under a dashed recall@k: equal values (one reference document) stay visible
    ax.plot([k for k, _ in pts], [v for _, v in pts], marker="o", ms=7, lw=3, color=_COLORS[0], label="hit@k")
    if rec:
        ax.plot(
            [k for k, _ in rec],
            [v for _, v in rec],
            marker="s",
            ms=4,
            ls="--",
            color=_COLORS[1],
            label="recall@k",
        )
    ax.set_ylim(0, 1.05)
    ax.set_xticks([k for k, _ in pts])
    ax.set_xlabel("k (passages retrieved)")
    ax.legend(frameon=False)
    return _svg(fig), "Retrieval hit@k: " + ", ".join(f"hit@{k} {v:.2f}" for k, v in pts) + "."


def pii_findings(items: Sequence[ItemResult]) -> Plot | None:
    counts: Counter[tuple[str, str]] = Counter()
    for it in items:
        for g in it.guards:
            for f in g.get("findings", []):
                counts[(str(f.get("entity_type")), str(g.get("stage")))] += 1
    if not counts:
        return None
    types = sorted({t for t, _ in counts}, key=lambda t: -sum(v for (x, _), v in counts.items() if x == t))
    stages = sorted({st for _, st in counts})
    fig, ax = _fig(4.6, 0.3 * len(types) + 0.9)
    left = [0] * len(types)
    for i, st in enumerate(stages):
        vals = [counts.get((t, st), 0) for t in types]
        ax.barh(types, vals, left=left, color=_COLORS[i % len(_COLORS)], label=st)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("findings")
    ax.legend(frameon=False, title="stage")
    total = ", ".join(f"{t} {sum(v for (x, _), v in counts.items() if x == t)}" for t in types)
    return _svg(fig), f"Guard findings by entity type and stage: {total}."


def guard_overhead(s: ScenarioResult) -> Plot | None:
    stages = [
        (st, s.latency[st])
        for st in ("guard_query", "guard_context", "guard_answer")
        if st in s.latency and (s.latency[st].p95_ms or 0) >= 0.05
    ]  # a guard ran
    if not stages:
        return None
    fig, ax = _fig(4.6, 2.4)
    xs = range(len(stages))
    ax.bar([x - 0.2 for x in xs], [st.p50_ms or 0 for _, st in stages], 0.4, label="p50", color=_COLORS[0])
    ax.bar([x + 0.2 for x in xs], [st.p95_ms or 0 for _, st in stages], 0.4, label="p95", color=_COLORS[3])
    ax.set_xticks(list(xs), [n.removeprefix("guard_") for n, _ in stages])
    ax.set_ylabel("ms per item")
    ax.legend(frameon=False)
    text = ", ".join(
        f"{n.removeprefix('guard_')} p50 {fmt(st.p50_ms)} / p95 {fmt(st.p95_ms)} ms" for n, st in stages
    )
    return _svg(fig), f"Guard overhead per stage: {text}."


def load_vs_slo(s: ScenarioResult) -> Plot | None:
    m = s.metrics
    lat = [(k, m.get(f"load.{k}_ms")) for k in ("p50", "p95", "p99")]
    if all(v is None for _, v in lat):
        return None
    slo = next((a.max for a in s.asserts if a.metric.startswith("load.p") and a.max is not None), None)
    fig, (ax1, ax2) = _plt().subplots(1, 2, figsize=(5.2, 2.2))
    ax1.bar([k for k, _ in lat], [v or 0 for _, v in lat], color=_COLORS[0])
    if slo is not None:
        ax1.axhline(slo, color=_COLORS[5], linestyle="--", label=f"SLO {slo:g} ms")
        ax1.legend(frameon=False)
    ax1.set_ylabel("latency under load, ms")
    rates = [("offered", m.get("load.offered_rps")), ("achieved", m.get("load.achieved_rps"))]
    ax2.bar([k for k, _ in rates], [v or 0 for _, v in rates], color=[_COLORS[1], _COLORS[2]])
    ax2.set_ylabel("requests/s")
    fig.tight_layout()
    text = (
        ", ".join(f"{k} {fmt(v)} ms" for k, v in lat)
        + "; "
        + ", ".join(f"{k} {fmt(v)} rps" for k, v in rates)
    )
    return _svg(fig), f"Latency under load against the SLO, and offered vs achieved rate: {text}."


def _slo(s: ScenarioResult, timeline: LoadTimeline, stat: str) -> float | None:
    """The bound on ``load.<stat>_ms``: the scenario's assert on it, else the load block's SLO."""
    bound = next((a.max for a in s.asserts if a.metric == f"load.{stat}_ms" and a.max is not None), None)
    return bound if bound is not None else timeline.slo_ms.get(f"{stat}_ms")


def load_over_time(s: ScenarioResult, timeline: LoadTimeline) -> Plot | None:
    """Latency p50/p95 per second of the load run against the SLO line, over offered vs achieved rate."""
    active = [i for i, w in enumerate(timeline.over_time) if w.sent or w.ok]
    if not active:
        return None
    windows = timeline.over_time[: active[-1] + 1]  # seconds without a request stay gaps, not lines
    slo = _slo(s, timeline, "p95")
    fig, (ax1, ax2) = _plt().subplots(2, 1, figsize=(4.6, 3.6), sharex=True, height_ratios=(3, 2))
    t = [w.t_s for w in windows]
    nan = float("nan")
    for stat, color in (("p50", _COLORS[0]), ("p95", _COLORS[3])):
        values = [getattr(w, f"{stat}_ms") for w in windows]
        ax1.plot(t, [nan if v is None else v for v in values], color=color, marker=".", label=stat)
    measured = [w for w in windows if w.p95_ms is not None]
    over = []
    if slo is not None:
        ax1.axhline(slo, color=_COLORS[5], linestyle="--", label=f"SLO p95 {slo:g} ms")
        over = [w.t_s for w in measured if w.p95_ms is not None and w.p95_ms > slo]
    ax1.set_ylabel("latency, ms")
    ax1.set_ylim(bottom=0)
    ax1.legend(frameon=False, ncols=3, loc="lower left", bbox_to_anchor=(0, 1), borderaxespad=0.2)
    ax2.step(t, [w.sent for w in windows], where="mid", color=_COLORS[1], label="offered (sent)")
    if any(w.ok is not None for w in windows):
        ax2.step(t, [w.ok or 0 for w in windows], where="mid", color=_COLORS[2], label="achieved (ok)")
    ax2.set_ylabel("requests/s")
    ax2.set_ylim(bottom=0)
    ax2.set_xlabel(f"second of the load run ({timeline.model} loop)")
    ax2.legend(frameon=False, ncols=2, loc="lower left", bbox_to_anchor=(0, 1), borderaxespad=0.2)
    fig.tight_layout()
    seconds = f"{len(measured)} seconds with requests"
    if slo is None:
        verdict = "no p95 SLO set"
    elif over:
        verdict = f"p95 above the SLO {slo:g} ms in {len(over)} of {seconds} (from second {over[0]})"
    else:
        verdict = f"p95 within the SLO {slo:g} ms in all {seconds}"
    return _svg(fig), (
        f"Latency under load per second, by scheduled send time, failed requests included: {verdict}; "
        f"offered {timeline.offered_rps:.1f} req/s, achieved {timeline.achieved_rps:.1f} req/s."
    )


def gpu_roofline(s: ScenarioResult) -> Plot | None:
    pts = [
        (m.removeprefix("gpu.").removesuffix("_roofline"), v)
        for m, v in s.metrics.items()
        if m.startswith("gpu.") and m.endswith("_roofline") and v is not None
    ]
    if not pts:
        return None
    fig, ax = _fig(4.6, 0.35 * len(pts) + 0.8)
    ax.barh([n for n, _ in pts], [v for _, v in pts], color=_COLORS[2])
    ax.axvline(1.0, color=_COLORS[5], linestyle="--", label="roofline")
    ax.set_xlim(0, max(1.1, max(v for _, v in pts) * 1.1))
    ax.set_xlabel("fraction of the roofline (ideal / measured)")
    ax.legend(frameon=False)
    return _svg(fig), "GPU results against their roofline: " + ", ".join(f"{n} {v:.2f}" for n, v in pts) + "."


def scenario_plots(
    s: ScenarioResult, items: Sequence[ItemResult], threshold: float, timeline: LoadTimeline | None = None
) -> list[Plot]:
    """Every plot the run holds data for. Under load: the timeline when the run folder has one, else (older
    runs) the summary against the SLO."""
    made = [
        latency_by_stage(items),
        faithfulness(items, threshold),
        hit_at_k(s),
        pii_findings(items),
        guard_overhead(s),
        (load_over_time(s, timeline) if timeline is not None else None) or load_vs_slo(s),
        gpu_roofline(s),
    ]
    return [p for p in made if p is not None]


__all__ = ["scenario_plots"]
