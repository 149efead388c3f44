"""``rag-harden compare RUN_A RUN_B``: what moved between two runs, per metric with the paired bootstrap
interval of the regression gate (:mod:`harness.eval.regression`), which items flipped between pass and fail,
and how latency changed. Reads the runs' JSON only (``report.json`` and each scenario's ``items.jsonl``)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from harness.errors import ConfigError
from harness.eval.regression import MetricComparison, compare
from harness.metrics import direction, gated_metrics
from harness.paths import write_private
from harness.report_gates import failure_kinds, faithfulness_threshold, fmt, load_items
from harness.results import BenchReport, ResultHeader, ScenarioResult, new_header


class MetricDelta(BaseModel):
    """A run-level figure that is not a mean of per-item values (latency percentiles, load, probes)."""

    metric: str
    baseline: float | None
    current: float | None
    delta: float | None
    worse: bool


class ItemFlip(BaseModel):
    id: str
    now: Literal["failing", "passing"]
    before: list[str]
    after: list[str]


class LatencyChange(BaseModel):
    stage: str
    p50_before_ms: float | None
    p50_after_ms: float | None
    p95_before_ms: float | None
    p95_after_ms: float | None


class ScenarioComparison(BaseModel):
    name: str
    metrics: list[MetricComparison]
    other: list[MetricDelta]
    flips: list[ItemFlip]
    latency: list[LatencyChange]
    n_paired_items: int

    @property
    def regressed(self) -> list[str]:
        return [m.metric for m in self.metrics if m.regressed]


class RunComparison(ResultHeader):
    run_a: str
    run_b: str
    tolerance: float
    scenarios: list[ScenarioComparison]
    only_in_one: list[str] = []

    @property
    def regressed(self) -> list[str]:
        return [f"{s.name}:{m}" for s in self.scenarios for m in s.regressed]


def read_run(run_dir: Path) -> BenchReport:
    path = run_dir / "report.json"
    if not path.is_file():
        raise ConfigError(
            f"{run_dir}: no report.json (is this a run folder? `rag-harden report` rebuilds one)"
        )
    return BenchReport.model_validate_json(path.read_text(encoding="utf-8"))


def _compare_scenario(
    a: ScenarioResult, b: ScenarioResult, items_a: list, items_b: list, tolerance: float, n_boot: int
) -> ScenarioComparison:
    thr = faithfulness_threshold(b)
    names = [m for m in b.metrics if m in a.metrics]
    paired = gated_metrics(names)
    metrics = [
        compare(m, items_a, items_b, tolerance=tolerance, faithfulness_threshold=thr, n_boot=n_boot)
        for m in paired
    ]
    other = []
    for m in names:
        if m in paired:
            continue
        va, vb = a.metrics.get(m), b.metrics.get(m)
        d = None if va is None or vb is None else vb - va
        dirn = direction(m)
        worse = d is not None and ((dirn == "lower" and d > 0) or (dirn == "higher" and d < 0))
        other.append(MetricDelta(metric=m, baseline=va, current=vb, delta=d, worse=worse))
    by_a = {it.id: it for it in items_a}
    flips = []
    for it in items_b:
        before = by_a.get(it.id)
        if before is None:
            continue
        ka, kb = failure_kinds(before, thr), failure_kinds(it, thr)
        if bool(ka) != bool(kb):
            flips.append(ItemFlip(id=it.id, now="failing" if kb else "passing", before=ka, after=kb))
    latency = [
        LatencyChange(
            stage=st,
            p50_before_ms=a.latency[st].p50_ms,
            p50_after_ms=b.latency[st].p50_ms,
            p95_before_ms=a.latency[st].p95_ms,
            p95_after_ms=b.latency[st].p95_ms,
        )
        for st in b.latency
        if st in a.latency and b.latency[st].n and a.latency[st].n
    ]
    return ScenarioComparison(
        name=b.name,
        metrics=metrics,
        other=other,
        flips=flips,
        latency=latency,
        n_paired_items=len(set(by_a) & {it.id for it in items_b}),
    )


def compare_runs(run_a: Path, run_b: Path, *, tolerance: float = 0.02, n_boot: int = 2000) -> RunComparison:
    """Compare run B (current) with run A (baseline), scenario by scenario (matched by name)."""
    ra, rb = read_run(run_a), read_run(run_b)
    items_a, items_b = load_items(ra, run_a), load_items(rb, run_b)
    sa = {s.name: s for s in ra.scenarios}
    scenarios = [
        _compare_scenario(sa[s.name], s, items_a[s.name], items_b[s.name], tolerance, n_boot)
        for s in rb.scenarios
        if s.name in sa
    ]
    only = sorted(set(sa) ^ {s.name for s in rb.scenarios})
    return RunComparison(
        **new_header(rb.scenario_hash),
        run_a=str(run_a),
        run_b=str(run_b),
        tolerance=tolerance,
        scenarios=scenarios,
        only_in_one=only,
    )


# --- rendering ----------------------------------------------------------------------------------------------


def _ci(m: MetricComparison) -> str:
    return "n/a" if m.ci_low is None or m.ci_high is None else f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}]"


def _delta(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.3f}" if abs(v) < 100 else f"{v:+,.0f}"


def _verdict(m: MetricComparison) -> str:
    if m.regressed:
        return "REGRESSED"
    if m.delta is None or m.ci_low is None or m.ci_high is None:
        return "not compared"
    better = m.ci_low > 0 if m.higher_is_better else m.ci_high < 0
    return "improved" if better and abs(m.delta) > 0 else "no significant change"


def _tables(c: RunComparison) -> list[tuple[str, list[str], list[list[str]]]]:
    """(caption, header, rows) per table: the one layout both renderings share."""
    out = []
    for s in c.scenarios:
        out.append(
            (
                f"{s.name}: metrics compared item by item ({s.n_paired_items} paired items, 95% paired "
                f"bootstrap interval of the change)",
                ["metric", "verdict", "A", "B", "change", "95% interval"],
                [
                    [m.metric, _verdict(m), fmt(m.baseline), fmt(m.current), _delta(m.delta), _ci(m)]
                    for m in sorted(s.metrics, key=lambda m: (not m.regressed, m.metric))
                ],
            )
        )
        if s.flips:
            out.append(
                (
                    f"{s.name}: items that flipped",
                    ["item", "now", "before", "after"],
                    [
                        [f.id, f.now, ", ".join(f.before) or "pass", ", ".join(f.after) or "pass"]
                        for f in sorted(s.flips, key=lambda f: (f.now != "failing", f.id))
                    ],
                )
            )
        if s.latency:
            out.append(
                (
                    f"{s.name}: latency per stage",
                    ["stage", "p50 A ms", "p50 B ms", "p95 A ms", "p95 B ms"],
                    [
                        [
                            x.stage,
                            fmt(x.p50_before_ms),
                            fmt(x.p50_after_ms),
                            fmt(x.p95_before_ms),
                            fmt(x.p95_after_ms),
                        ]
                        for x in s.latency
                    ],
                )
            )
        moved = [o for o in s.other if o.delta and not o.metric.startswith("latency.")]
        if moved:
            out.append(
                (
                    f"{s.name}: other figures (no per-item pairing)",
                    ["metric", "A", "B", "change", "worse"],
                    [
                        [o.metric, fmt(o.baseline), fmt(o.current), _delta(o.delta), "yes" if o.worse else ""]
                        for o in moved
                    ],
                )
            )
    return out


def _headline(c: RunComparison) -> str:
    if c.regressed:
        return f"{len(c.regressed)} metric(s) regressed: {', '.join(c.regressed)}"
    return "no metric regressed beyond the tolerance and the noise"


def render_markdown(c: RunComparison) -> str:
    out = [
        "# rag-harden compare",
        "",
        f"- A (baseline): `{c.run_a}`",
        f"- B (current): `{c.run_b}`",
        f"- tolerance: {c.tolerance:g}; a metric regresses when it is worse by more than the tolerance "
        "and its "
        "95% paired bootstrap interval excludes 0",
        f"- **{_headline(c)}**",
        "",
    ]
    if c.only_in_one:
        out += [f"Scenarios in one run only (not compared): {', '.join(c.only_in_one)}", ""]
    for caption, header, rows in _tables(c):
        out += [f"## {caption}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


def render_html(c: RunComparison) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>rag-harden compare</title>"
        "<style>body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;padding:1rem;max-width:80rem}"
        "table{border-collapse:collapse;width:100%;margin:.3rem 0 1rem}"
        "caption{text-align:left;font-weight:700}"
        "th,td{border:1px solid #c8c8c8;padding:.15rem .4rem;text-align:left}thead th{background:#f4f4f4}"
        ".REGRESSED,.failing{color:#a3001b;font-weight:700}.improved,.passing{color:#0a6b2a}</style></head><body>",
        "<h1>rag-harden compare</h1>",
        f"<p>A (baseline) <code>{esc(c.run_a)}</code> &rarr; B (current) <code>{esc(c.run_b)}</code>; "
        "tolerance "
        f"{c.tolerance:g}.</p><p><b>{esc(_headline(c))}</b></p>",
    ]
    for caption, header, rows in _tables(c):
        parts.append(
            f"<table><caption>{esc(caption)}</caption><thead><tr>"
            + "".join(f"<th scope='col'>{esc(h)}</th>" for h in header)
            + "</tr></thead><tbody>"
        )
        for row in rows:
            cells = [f"<th scope='row'><code>{esc(row[0])}</code></th>"]
            cells += [f"<td class='{esc(v.split(' ')[0])}'>{esc(v)}</td>" for v in row[1:]]
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_comparison(c: RunComparison, out_dir: Path, stem: str = "compare") -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / f"{stem}.json", "md": out_dir / f"{stem}.md", "html": out_dir / f"{stem}.html"}
    write_private(paths["json"], c.model_dump_json(indent=2))
    write_private(paths["md"], render_markdown(c))
    write_private(paths["html"], render_html(c))
    return paths


__all__ = [
    "ItemFlip",
    "LatencyChange",
    "MetricDelta",
    "RunComparison",
    "ScenarioComparison",
    "compare_runs",
    "read_run",
    "render_html",
    "render_markdown",
    "write_comparison",
]
