"""Render a :class:`BenchReport` as JSON, Markdown and HTML. Rendering only: no scoring happens here."""

from __future__ import annotations

import html
from pathlib import Path

from harness.metrics import GROUPS
from harness.paths import write_private
from harness.results import BenchReport, ScenarioResult

# The metric table shows every group of the catalogue but latency and load (they have tables of their own).
METRIC_GROUPS = tuple(f"{group}." for group, _title in GROUPS if group not in ("latency", "load"))


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3f}"


def _status(s: ScenarioResult) -> str:
    if not s.complete:
        return "INCOMPLETE"
    return "PASS" if s.passed else "FAIL"


def render_markdown(report: BenchReport) -> str:
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
        out += [f"Scored {s.n_scored} of {s.n_items} golden items ({s.n_errors} errors) in {s.duration_s or 0:.1f} s."]
        if s.aborted:
            out += ["", f"**Stopped early:** {s.aborted}"]
        gen = s.pipeline.get("generator", {})
        emb = s.pipeline.get("embedder", {})
        out += ["", f"Pipeline: embedder `{emb.get('model', '?')}`, generator `{gen.get('backend', '?')}:"
                    f"{gen.get('model', '')}`, top_k {s.pipeline.get('retriever', {}).get('top_k', '?')}, "
                    f"{s.pipeline.get('n_chunks', '?')} chunks."]
        if s.asserts:
            out += ["", "| assert | threshold | value | result |", "|---|---|---|---|"]
            for a in s.asserts:
                bound = " and ".join(x for x in (f">= {a.min:g}" if a.min is not None else "",
                                                 f"<= {a.max:g}" if a.max is not None else "") if x)
                out.append(f"| `{a.metric}` | {bound} | {_fmt(a.value)} | {'PASS' if a.passed else '**FAIL**'} |")
        out += ["", "| metric | value |", "|---|---|"]
        out += [f"| `{k}` | {_fmt(v)} |" for k, v in s.metrics.items() if k.startswith(METRIC_GROUPS)]
        out += ["", "| stage | n | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|"]
        for stage, st in s.latency.items():
            out.append(f"| {stage} | {st.n} | {_fmt(st.p50_ms)} | {_fmt(st.p95_ms)} | {_fmt(st.p99_ms)} | {_fmt(st.max_ms)} |")
        for detector, domain in s.calibration_domain.items():
            out += ["", f"Calibration domain of {detector}: {domain.get('summary', domain)}"]
        if s.warnings:
            out += ["", "**Warnings:**", ""] + [f"- {w}" for w in s.warnings]
        out += ["", f"Items: `{s.items_file}`", ""]
    return "\n".join(out) + "\n"


def render_html(report: BenchReport) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>rag-harden report</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
        ".PASS{color:#0a7a2f;font-weight:600}.FAIL,.INCOMPLETE{color:#b00020;font-weight:600}</style></head><body>",
        "<h1>rag-harden launch-gap report</h1>",
        f"<p>created {esc(report.created_at)} &middot; commit {esc(report.git_commit or 'n/a')} &middot; overall "
        f"<span class='{'PASS' if report.passed else 'FAIL'}'>{'PASS' if report.passed else 'FAIL'}</span></p>",
    ]
    for s in report.scenarios:
        status = _status(s)
        parts.append(f"<h2>{esc(s.name)}: <span class='{status}'>{status}</span></h2>")
        parts.append(f"<p>{esc(s.description)}</p><p>Scored {s.n_scored} of {s.n_items} items, {s.n_errors} errors.</p>")
        if s.aborted:
            parts.append(f"<p class='FAIL'>Stopped early: {esc(s.aborted)}</p>")
        if s.asserts:
            parts.append("<table><tr><th>assert</th><th>min</th><th>max</th><th>value</th><th>result</th></tr>")
            for a in s.asserts:
                r = "PASS" if a.passed else "FAIL"
                parts.append(f"<tr><td><code>{esc(a.metric)}</code></td><td>{'' if a.min is None else a.min}</td>"
                             f"<td>{'' if a.max is None else a.max}</td><td>{_fmt(a.value)}</td>"
                             f"<td class='{r}'>{r}</td></tr>")
            parts.append("</table>")
        parts.append("<table><tr><th>metric</th><th>value</th></tr>")
        parts += [f"<tr><td><code>{esc(k)}</code></td><td>{_fmt(v)}</td></tr>"
                  for k, v in s.metrics.items() if k.startswith(METRIC_GROUPS)]
        parts.append("</table><table><tr><th>stage</th><th>n</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>")
        parts += [f"<tr><td>{esc(stage)}</td><td>{st.n}</td><td>{_fmt(st.p50_ms)}</td><td>{_fmt(st.p95_ms)}</td>"
                  f"<td>{_fmt(st.p99_ms)}</td></tr>" for stage, st in s.latency.items()]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(report: BenchReport, run_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``run_dir``; returns their paths."""
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": run_dir / "report.json", "md": run_dir / "report.md", "html": run_dir / "report.html"}
    tmp = paths["json"].with_suffix(".json.tmp")
    write_private(tmp, report.model_dump_json(indent=2))
    tmp.replace(paths["json"])
    write_private(paths["md"], render_markdown(report))
    write_private(paths["html"], render_html(report))
    return paths


__all__ = ["render_html", "render_markdown", "write_report"]
