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
    ax.plot([k for k, _ in pts], [v for _, v in pts], marker="o", color=_COLORS[0], label="hit@k")
    if rec:
        ax.plot([k for k, _ in rec], [v for _, v in rec], marker="s", color=_COLORS[1], label="recall@k")
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


def scenario_plots(s: ScenarioResult, items: Sequence[ItemResult], threshold: float) -> list[Plot]:
    made = [
        latency_by_stage(items),
        faithfulness(items, threshold),
        hit_at_k(s),
        pii_findings(items),
        guard_overhead(s),
        load_vs_slo(s),
        gpu_roofline(s),
    ]
    return [p for p in made if p is not None]


__all__ = ["scenario_plots"]
