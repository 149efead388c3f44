"""``rag-harden compare``: a run against its closed-book copy (questions sent without passages) names the
metrics that regressed, with the paired bootstrap interval, and the items that flipped; a run against itself
shows no change."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.compare import RunComparison

runner = CliRunner()


def test_compare_names_the_metrics_the_closed_book_copy_regressed(
    baseline_run: Path, closed_book_run: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["compare", str(baseline_run), str(closed_book_run), "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 1, result.output
    comparison = RunComparison.model_validate_json((tmp_path / "compare.json").read_text())
    (s,) = comparison.scenarios
    regressed = {m.metric: m for m in s.metrics if m.regressed}
    # without passages the system declines answerable questions and its answers drift from the references
    assert "abstention.answerable_declined_rate" in regressed
    assert any(m.startswith("answer.") for m in regressed)
    for m in regressed.values():
        assert m.ci_low is not None and m.ci_high is not None
        assert (m.ci_high < 0) if m.higher_is_better else (m.ci_low > 0)  # the interval excludes 0
    # retrieval runs as before: it must not be named
    assert not any(m.startswith("retrieval.") for m in regressed)
    assert any(f.now == "failing" and "declined answerable" in f.after for f in s.flips)
    md = (tmp_path / "compare.md").read_text()
    html = (tmp_path / "compare.html").read_text()
    for name in regressed:
        assert name in md and name in html and f"demo:{name}" in md
    assert "REGRESSED" in html and "latency per stage" in md


def test_compare_a_run_with_itself_shows_no_change(baseline_run: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", str(baseline_run), str(baseline_run), "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "compare.json").read_text())
    (s,) = data["scenarios"]
    assert s["flips"] == [] and all(not m["regressed"] and m["delta"] in (0, None) for m in s["metrics"])
    assert "no metric regressed" in result.output


def test_compare_needs_run_folders(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 2
