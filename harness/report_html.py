"""The self-contained HTML launch-gap report: gate tables per area, inline SVG plots, and a drill-down of
every failing or flagged item (``<details>``, usable without JavaScript). Rendering only: the figures come
from the :class:`BenchReport` and the run's items, which stay the source of truth."""

from __future__ import annotations

import html
import importlib.metadata
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import jinja2

from harness.report_gates import AreaGate, area_gates, faithfulness_threshold, flagged_items, fmt
from harness.report_load import LoadTimeline
from harness.results import BenchReport, ItemResult, ScenarioResult

_CSS = {"PASS": "PASS", "FAIL": "FAIL", "not measured": "nm", "no threshold": "nt"}


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("harness", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html.j2")


def anchor(name: str) -> str:
    """A fragment-safe id part (ids of items and scenarios are user data)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def highlight(answer: str, claims: Sequence[str]) -> str:
    """The answer, escaped, with each unsupported claim wrapped in ``<mark>`` where it occurs verbatim."""
    spans: list[tuple[int, int]] = []
    for claim in claims:
        claim = claim.strip()
        if not claim:
            continue
        i = answer.find(claim)
        if i >= 0 and not any(a < i + len(claim) and i < b for a, b in spans):
            spans.append((i, i + len(claim)))
    out, pos = [], 0
    for a, b in sorted(spans):
        out += [html.escape(answer[pos:a]), "<mark>", html.escape(answer[a:b]), "</mark>"]
        pos = b
    out.append(html.escape(answer[pos:]))
    return "".join(out)


def _breakable(name: str) -> str:
    """A metric name that may wrap after its dots and underscores (not mid-word) in a narrow column, but not
    before a short last part (``rouge_l``, ``p95_ms`` stay whole)."""
    return re.sub(r"([._])(?=[^._]{4,})", r"\1<wbr>", html.escape(name))


def _failing(gates: Sequence[AreaGate]) -> list[str]:
    return [_breakable(r.metric) for g in gates for r in g.rows if r.status == "FAIL"]


def _gate_view(gate: AreaGate) -> dict[str, Any]:
    return {
        "key": gate.key,
        "title": gate.title,
        "status": gate.status,
        "css": _CSS[gate.status],
        "note": gate.note,
        "rows": [
            {
                "metric": r.metric,
                "metric_html": _breakable(r.metric),
                "status": r.status,
                "css": _CSS[r.status],
                "value": fmt(r.value),
                "threshold": r.threshold,
                "reason": r.reason.split("; see items")[0],
                "links": list(r.item_ids[:8]),
            }
            for r in gate.rows
        ],
    }


def _passage_views(item: ItemResult, compared: Sequence[str]) -> list[dict[str, Any]]:
    """The retrieved passages, cited ones first; the passage sentences unsupported claims were compared with
    are marked. Runs that predate stored passages (no text, no cited flag) fall back to cited documents."""
    cited_docs = set(item.cited_doc_ids)
    views = [
        {
            "number": r.number,
            "doc_id": r.doc_id,
            "chunk_id": r.chunk_id,
            "score": f"{r.score:.3f}",
            "cited": bool(r.cited) if r.cited is not None else r.doc_id in cited_docs,
            "text_html": None if r.text is None else highlight(r.text, compared),
            "compared": r.text is not None and any(c.strip() and c.strip() in r.text for c in compared),
        }
        for r in item.retrieved
    ]
    views.sort(key=lambda v: not v["cited"])
    for v in views:  # open what the reader needs; with nothing cited, the top-ranked passage
        v["open"] = v["cited"] or v["compared"] or (v is views[0] and not views[0]["cited"])
    return views


def _item_view(item: ItemResult, kinds: list[str]) -> dict[str, Any]:
    claims = item.unsupported_claims
    findings: Counter[tuple[str, str]] = Counter()
    for g in item.guards:
        for f in g.get("findings", []):
            findings[(str(g.get("stage")), str(f.get("entity_type")))] += 1
    t = item.timings
    latency = (
        ""
        if t is None
        else (
            f"total {fmt(t.total_ms)} ms (embed {fmt(t.embed_ms)}, search {fmt(t.search_ms)}, "
            f"generate {fmt(t.generate_ms)}, guards "
            f"{fmt(t.guard_query_ms + t.guard_context_ms + t.guard_answer_ms)})"
        )
    )
    leaks = "; ".join(f"{k}: {', '.join(v)}" for k, v in (item.leaks or {}).items() if v)
    return {
        "id": item.id,
        "question": item.user_input,
        "tags": item.tags,
        "kinds": kinds,
        "answerable": item.answerable,
        "faithfulness": None if item.faithfulness is None else f"{item.faithfulness:.3f}",
        "latency": latency,
        "error": item.error,
        "blocked": item.blocked,
        "answer_html": highlight(item.answer, [str(c.get("claim", "")) for c in claims])
        if item.answer
        else "",
        "claims": [
            {
                "claim": c.get("claim", ""),
                "support": fmt(c.get("support")),
                "compared_with": c.get("compared_with") or "(no passage sentence)",
                "novel": ", ".join(c.get("novel_terms") or []) or "none",
            }
            for c in claims
        ],
        "passages": _passage_views(item, [str(c.get("compared_with") or "") for c in claims]),
        "findings": [(st, et, n) for (st, et), n in sorted(findings.items())],
        "leaks": leaks,
    }


def _summary(s: ScenarioResult) -> str:
    gen = s.pipeline.get("generator", {})
    emb = s.pipeline.get("embedder", {})
    model = ":" + str(gen["model"]) if gen.get("model") else ""
    dur = f" in {s.duration_s:.1f} s" if s.duration_s else ""
    return (
        f"Scored {s.n_scored} of {s.n_items} golden items ({s.n_errors} errors){dur}. Pipeline: embedder "
        f"{emb.get('model', '?')}, generator {gen.get('backend', '?')}{model}, top_k "
        f"{s.pipeline.get('retriever', {}).get('top_k', '?')}, {s.pipeline.get('n_chunks', '?')} chunks. "
        f"{s.description}"
    )


def _options(values: Counter[str], prefix: str) -> list[dict[str, Any]]:
    """Filter options: a value, its count and the class its items carry (classes, not user text, in CSS)."""
    return [{"value": v, "n": n, "cls": f"{prefix}{i}"} for i, (v, n) in enumerate(sorted(values.items()))]


def scenario_view(
    s: ScenarioResult,
    items: Sequence[ItemResult],
    *,
    plots: bool = True,
    timeline: LoadTimeline | None = None,
) -> dict[str, Any]:
    from harness.report_plots import scenario_plots

    gates = area_gates(s, items)
    flagged = flagged_items(s, items, gates)
    status = "INCOMPLETE" if not s.complete else ("PASS" if s.passed else "FAIL")
    kind_counts = Counter(k for f in flagged for k in f.kinds)
    kinds = _options(kind_counts, "k")
    tags = _options(Counter(t for f in flagged for t in dict.fromkeys(f.item.tags)), "t")
    kind_cls = {o["value"]: o["cls"] for o in kinds}
    tag_cls = {o["value"]: o["cls"] for o in tags}
    views = []
    for f in flagged:
        view = _item_view(f.item, f.kinds)
        view["classes"] = " ".join([kind_cls[k] for k in f.kinds] + [tag_cls[t] for t in f.item.tags])
        views.append(view)
    return {
        "name": s.name,
        "anchor": anchor(s.name),
        "status": status,
        "n_scored": s.n_scored,
        "n_items": s.n_items,
        "incomplete": None
        if s.complete
        else (s.aborted or "not every item was scored").removeprefix("incomplete: "),
        "summary": _summary(s),
        "gates": [_gate_view(g) for g in gates],
        "failing": _failing(gates),
        "unmeasured": [_breakable(a.metric) for a in s.asserts if a.value is None],
        "warnings": s.warnings,
        "plots": scenario_plots(s, items, faithfulness_threshold(s), timeline) if plots else [],
        "flagged": views,
        "tags": tags,
        "kinds": kinds,
    }


def _version() -> str:
    try:
        return importlib.metadata.version("rag-harden")
    except importlib.metadata.PackageNotFoundError:
        return "(source)"


def render_html(
    report: BenchReport,
    items: Mapping[str, Sequence[ItemResult]] | None = None,
    *,
    plots: bool = True,
    timelines: Mapping[str, LoadTimeline] | None = None,
) -> str:
    """One self-contained HTML file (inline CSS, SVG and a small optional script; nothing fetched)."""
    items, timelines = items or {}, timelines or {}
    scenarios = [
        scenario_view(s, items.get(s.name, []), plots=plots, timeline=timelines.get(s.name))
        for s in report.scenarios
    ]
    incomplete = any(not s.complete for s in report.scenarios)
    overall = "INCOMPLETE" if incomplete else ("PASS" if report.passed else "FAIL")
    return _template().render(
        overall=overall,
        created_at=report.created_at,
        commit=report.git_commit or "n/a",
        dirty=bool(report.git_dirty),
        scenarios=scenarios,
        version=_version(),
    )


__all__ = ["anchor", "highlight", "render_html", "scenario_view"]
