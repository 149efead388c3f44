"""Render a :class:`BenchReport` as JSON, Markdown and HTML. Rendering only: no scoring happens here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.metrics import GROUPS
from harness.paths import write_private
from harness.report_gates import area_gates, flagged_items, load_items
from harness.report_gates import fmt as _fmt
from harness.report_html import render_html
from harness.report_load import read_timelines
from harness.results import BenchReport, ItemResult, ScenarioResult

# The metric table shows every group of the catalogue but latency and load (they have tables of their own).
METRIC_GROUPS = tuple(f"{group}." for group, _title in GROUPS if group not in ("latency", "load"))


def _status(s: ScenarioResult) -> str:
    if not s.complete:
        return "INCOMPLETE"
    return "PASS" if s.passed else "FAIL"


TOP_ITEMS = 10


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_gates(s: ScenarioResult, items: Sequence[ItemResult]) -> list[str]:
    """The gate table (one row per gate, grouped by area) and the top failing items, for CI logs."""
    out = ["| area | metric | result | value | threshold | why |", "|---|---|---|---|---|---|"]
    for gate in area_gates(s, items):
        if not gate.rows:
            out.append(f"| {gate.title} | | {gate.status} | | | {gate.note} |")
        for r in gate.rows:
            result = f"**{r.status}**" if r.status == "FAIL" else r.status
            out.append(
                f"| {gate.title} | `{r.metric}` | {result} | {_fmt(r.value)} | {r.threshold} | "
                f"{_cell(r.reason)} |"
            )
    flagged = flagged_items(s, items)
    if flagged:
        shown = min(TOP_ITEMS, len(flagged))
        out += ["", f"Failing or flagged items: {len(flagged)} of {len(items)} (first {shown}):", ""]
        out += [
            f"- `{f.item.id}` ({', '.join(f.kinds)}): {_cell(f.item.user_input)[:120]}"
            for f in flagged[:TOP_ITEMS]
        ]
    return out


def render_markdown(report: BenchReport, items: Mapping[str, Sequence[ItemResult]] | None = None) -> str:
    out = [
        "# rag-harden launch-gap report",
        "",
        f"- created: {report.created_at}",
        f"- git commit: {report.git_commit or 'n/a'}{' (uncommitted changes)' if report.git_dirty else ''}",
        f"- overall: **{'PASS' if report.passed else 'FAIL'}**",
        "",
    ]
    for s in report.scenarios:
        out += [f"## {s.name}: {_status(s)}", ""]
        if s.description:
            out += [s.description, ""]
        out += [
            f"Scored {s.n_scored} of {s.n_items} golden items ({s.n_errors} errors) in "
            f"{s.duration_s or 0:.1f} s."
        ]
        if s.aborted:
            out += ["", f"**Stopped early:** {s.aborted}"]
        gen = s.pipeline.get("generator", {})
        emb = s.pipeline.get("embedder", {})
        out += [
            "",
            f"Pipeline: embedder `{emb.get('model', '?')}`, generator `{gen.get('backend', '?')}:"
            f"{gen.get('model', '')}`, top_k {s.pipeline.get('retriever', {}).get('top_k', '?')}, "
            f"{s.pipeline.get('n_chunks', '?')} chunks.",
        ]
        if not s.complete:
            out += [
                "",
                "**INCOMPLETE**: figures cover the scored items only; an incomplete run never passes.",
            ]
        out += ["", *render_gates(s, (items or {}).get(s.name, []))]
        if s.asserts:
            out += ["", "| assert | threshold | value | result |", "|---|---|---|---|"]
            for a in s.asserts:
                bound = " and ".join(
                    x
                    for x in (
                        f">= {a.min:g}" if a.min is not None else "",
                        f"<= {a.max:g}" if a.max is not None else "",
                    )
                    if x
                )
                result = "PASS" if a.passed else "**FAIL**"
                out.append(f"| `{a.metric}` | {bound} | {_fmt(a.value)} | {result} |")
        out += ["", "| metric | value |", "|---|---|"]
        out += [f"| `{k}` | {_fmt(v)} |" for k, v in s.metrics.items() if k.startswith(METRIC_GROUPS)]
        out += ["", "| stage | n | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
        for stage, st in s.latency.items():
            out.append(
                f"| {stage} | {st.n} | {_fmt(st.p50_ms)} | {_fmt(st.p95_ms)} | {_fmt(st.p99_ms)} | "
                f"{_fmt(st.max_ms)} |"
            )
        for detector, domain in s.calibration_domain.items():
            out += ["", f"Calibration domain of {detector}: {domain.get('summary', domain)}"]
        if s.warnings:
            out += ["", "**Warnings:**", ""] + [f"- {w}" for w in s.warnings]
        out += ["", f"Items: `{s.items_file}`", ""]
    return "\n".join(out) + "\n"


def write_report(report: BenchReport, run_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``run_dir``; returns their paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": run_dir / "report.json", "md": run_dir / "report.md", "html": run_dir / "report.html"}
    tmp = paths["json"].with_suffix(".json.tmp")
    write_private(tmp, report.model_dump_json(indent=2))
    tmp.replace(paths["json"])
    items = load_items(report, run_dir)
    write_private(paths["md"], render_markdown(report, items))
    timelines = read_timelines([s.name for s in report.scenarios], run_dir)
    write_private(paths["html"], render_html(report, items, timelines=timelines))
    return paths


__all__ = ["render_html", "render_markdown", "write_report"]
