"""``rag-harden eval``: score a golden set, check its hygiene, compare with a baseline, write CI outputs.

The gate is what decides the exit code: ``regressions`` (the default when a baseline is given) fails only on a
metric that regressed beyond tolerance and outside its bootstrap interval; ``asserts`` (the default without a
baseline) fails on the scenario's asserts; ``both`` on either.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from harness.config import Scenario
from harness.errors import ConfigError
from harness.eval.hygiene import HygieneWarning, check_golden_set
from harness.eval.regression import MetricComparison, compare
from harness.flow import read_items, record_into, score_scenario
from harness.golden import load_golden_set
from harness.junit import write_junit
from harness.metrics import gated_metrics
from harness.paths import new_run_dir, write_private
from harness.pipeline.documents import load_documents
from harness.results import BenchReport, ItemResult, ResultHeader, ScenarioResult, new_header, now_iso
from harness.runner import BenchComponents

Gate = Literal["auto", "asserts", "regressions", "both"]


class EvalResult(ResultHeader):
    scenario: ScenarioResult
    baseline: str | None
    gate: str
    comparisons: list[MetricComparison]
    warnings: list[HygieneWarning]
    passed: bool
    report: str
    junit: str
    summary: str


def load_baseline(path: Path, name: str) -> tuple[ScenarioResult, list[ItemResult]]:
    try:
        report = BenchReport.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable rag-harden report.json: {exc}") from exc
    found = [s for s in report.scenarios if s.name == name]
    if not found:
        raise ConfigError(
            f"{path}: has no scenario named {name!r} (has {[s.name for s in report.scenarios]})"
        )
    scenario = found[0]
    for candidate in (Path(scenario.items_file), path.parent / name / "items.jsonl"):
        if candidate.is_file():
            return scenario, read_items(candidate)
    raise ConfigError(f"{path}: the items of scenario {name!r} are missing ({scenario.items_file})")


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def render_summary(result: EvalResult) -> str:
    s = result.scenario
    lines = [
        f"## rag-harden eval: {s.name}: {'PASS' if result.passed else 'FAIL'}",
        "",
        f"Gate: {result.gate}. Scored {s.n_scored}/{s.n_items} items, {s.n_errors} errors."
        + (f" Baseline: `{result.baseline}`." if result.baseline else ""),
        "",
    ]
    if result.comparisons:
        lines += [
            "| metric | baseline | current | change | 95% interval | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for c in result.comparisons:
            interval = "n/a" if c.ci_low is None else f"[{c.ci_low:.3f}, {c.ci_high:.3f}]"
            verdict = "**REGRESSED**" if c.regressed else c.reason
            lines.append(
                f"| `{c.metric}` | {_fmt(c.baseline)} | {_fmt(c.current)} | {_fmt(c.delta)} | {interval} | "
                f"{verdict} |"
            )
        lines.append("")
    lines += ["| assert | value | result |", "|---|---|---|"]
    lines += [
        f"| `{a.metric}` | {a.value if a.value is None else round(a.value, 4)} | "
        f"{'PASS' if a.passed else 'FAIL'} |"
        for a in s.asserts
    ]
    if result.warnings:
        lines += ["", f"Golden-set hygiene: {len(result.warnings)} warning(s)", ""]
        lines += [f"- {w.kind} `{w.item_id}`: {w.detail}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def run_eval(
    scenario: Scenario,
    scenario_path: Path,
    *,
    build: Callable[[Scenario], BenchComponents],
    out_root: Path,
    baseline: Path | None,
    tolerance: float,
    gate: Gate,
    log: Callable[[str], None] = lambda _m: None,
    progress=None,
) -> EvalResult:
    if baseline is not None:
        base_scenario, base_items = load_baseline(baseline, scenario.name)
    parts = build(scenario)
    out_root.mkdir(parents=True, exist_ok=True)
    run_dir = new_run_dir(out_root, prefix="eval-")
    kwargs = {"progress": progress} if progress is not None else {}
    report = BenchReport(**new_header(scenario.fingerprint()))
    result = score_scenario(
        scenario,
        scenario_path,
        run_dir / scenario.name,
        parts,
        batch_size=scenario.pipeline.batch_size,
        log=log,
        record=record_into(report, run_dir),
        **kwargs,
    )
    items = read_items(run_dir / scenario.name / "items.jsonl")
    threshold = scenario.hallucination.faithfulness_threshold
    comparisons: list[MetricComparison] = []
    if baseline is not None:
        names = [m for m in gated_metrics(list(result.metrics)) if m in base_scenario.metrics]
        comparisons = [
            compare(m, base_items, items, tolerance=tolerance, faithfulness_threshold=threshold)
            for m in names
        ]
    warnings = check_golden_set(
        load_golden_set(scenario.golden_set),
        load_documents(scenario.corpus.paths),
        parts.pipeline.embedder,  # type: ignore[attr-defined]
        parts.groundedness,
    )
    effective = gate if gate != "auto" else ("regressions" if baseline is not None else "asserts")
    regressions_ok = not any(c.regressed for c in comparisons)
    asserts_ok = result.passed
    passed = (
        result.complete
        and {"asserts": asserts_ok, "regressions": regressions_ok, "both": asserts_ok and regressions_ok}[
            effective
        ]
    )
    junit, summary = run_dir / "junit.xml", run_dir / "summary.md"
    write_junit(junit, result, items, comparisons, threshold, gate_asserts=effective in ("asserts", "both"))
    out = EvalResult(
        **new_header(scenario.fingerprint()),
        scenario=result,
        baseline=str(baseline) if baseline else None,
        gate=effective,
        comparisons=comparisons,
        warnings=warnings,
        passed=passed,
        report=str(run_dir / "report.json"),
        junit=str(junit),
        summary=str(summary),
    )
    write_private(summary, render_summary(out))
    out.finished_at = now_iso()
    write_private(run_dir / "eval.json", out.model_dump_json(indent=2))
    return out


__all__ = ["EvalResult", "load_baseline", "render_summary", "run_eval"]
