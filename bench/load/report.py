"""The load report (JSON and Markdown) and the answer-quality scorer used during load."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load.runner import LoadResult
from harness.config import Scenario
from harness.paths import new_run_dir, write_private


def answer_quality_scorer(
    scenario: Scenario, embedder: Any = None
) -> Callable[[list[tuple[str, str]]], float | None]:
    """Mean ragas semantic similarity of answers to their golden references (answerable items only). Pass the
    pipeline's embedder when one is loaded already; otherwise the scenario's is loaded when needed."""

    def score(pairs: list[tuple[str, str]]) -> float | None:
        from harness.eval.answers import AnswerScorer
        from harness.golden import load_golden_set
        from harness.pipeline.embedders import EMBEDDERS
        from harness.text import strip_citations

        references = {
            g.user_input: g.reference
            for g in load_golden_set(scenario.golden_set)
            if g.answerable and g.reference
        }
        scored = [(references[q], a) for q, a in pairs if q in references]
        if not scored:
            return None
        scorer = AnswerScorer(
            embedder if embedder is not None else EMBEDDERS.build(scenario.pipeline.embedder)
        )
        values = [scorer.score(ref, strip_citations(ans))["semantic_similarity"] for ref, ans in scored]
        return sum(values) / len(values)

    return score


def render(result: LoadResult, checks: list[tuple[str, float | None, str, bool]]) -> str:
    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"

    passed = all(ok for *_, ok in checks)
    lines = [
        f"# rag-harden load: {result.scenario}: {'PASS' if passed else 'FAIL'}",
        "",
        f"Target {result.target}, {result.model} loop: {result.n_scheduled} scheduled, {result.n_completed} "
        f"completed in {result.duration_s:.1f} s; offered {result.offered_rps:.1f} req/s, achieved "
        f"{result.achieved_rps:.1f} req/s.",
        "",
        "| SLO | bound | value | result |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{m}` | {b} | {fmt(v)} | {'PASS' if ok else '**FAIL**'} |" for m, v, b, ok in checks]
    lines += ["", "| metric | value |", "|---|---|"] + [
        f"| `{k}` | {fmt(v)} |" for k, v in result.metrics.items()
    ]
    lat, svc = result.latency, result.service_time
    lines += [
        "",
        "Latency from the scheduled send time (what a user waits) vs service time (from the actual send):",
        f"p50 {fmt(lat.p50_ms)} / {fmt(svc.p50_ms)} ms, p95 {fmt(lat.p95_ms)} / {fmt(svc.p95_ms)} ms, "
        f"p99 {fmt(lat.p99_ms)} / {fmt(svc.p99_ms)} ms.",
        f"The load generator's own pacing error (actual minus scheduled send time): p50 "
        f"{fmt(result.pacing_error.p50_ms)} ms, p99 {fmt(result.pacing_error.p99_ms)} ms, max "
        f"{fmt(result.pacing_error.max_ms)} ms.",
    ]
    if result.errors:
        lines += ["", "Errors: " + ", ".join(f"{k}: {v}" for k, v in result.errors.items())]
    lines += ["", "| second | sent | p50 ms | p95 ms |", "|---|---|---|---|"]
    lines += [
        f"| {r['t_s']} | {r['sent']} | {fmt(r['p50_ms'])} | {fmt(r['p95_ms'])} |" for r in result.over_time
    ]
    return "\n".join(lines) + "\n"


def write_load_report(
    result: LoadResult, checks: list[tuple[str, float | None, str, bool]], out_dir: Path
) -> dict[str, Path]:
    run_dir = new_run_dir(out_dir, prefix="load-")
    data = result.model_dump()
    data["slo"] = [{"metric": m, "value": v, "bound": b, "passed": ok} for m, v, b, ok in checks]
    files = {"json": run_dir / "load.json", "md": run_dir / "load.md"}
    write_private(files["json"], json.dumps(data, indent=2))
    write_private(files["md"], render(result, checks))
    return files


__all__ = ["answer_quality_scorer", "render", "write_load_report"]
