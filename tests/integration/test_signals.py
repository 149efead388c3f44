"""A real `rag-harden bench` process, stopped the way CI cancel and `docker stop` stop it (SIGTERM), then
resumed: what was scored is kept, the partial report is written and marked incomplete, and the resumed run
scores only the items that were missing. The resume runs in this process (CliRunner): a fresh process
exercises nothing more, and starting one costs a full import and model load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.results import BenchReport, ItemResult
from tests.conftest import scenario_variant


def _items(path: Path) -> list[ItemResult]:
    return [ItemResult.model_validate_json(line) for line in path.read_text().split("\n") if line.strip()]


def test_sigterm_writes_the_partial_report_and_resume_finishes_it(tmp_path: Path, repo: Path) -> None:
    # Report redaction is not what this tests (tests/guards covers it); off, the stopped process loads no presidio.
    changes = {"pipeline.generator": {"backend": "extractive"}, "report.redact_pii": False}
    scenario = scenario_variant(repo, tmp_path, name="demo", changes=changes)
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "harness.cli", "bench", str(scenario), "--out-dir", str(out), "--limit", "12"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    items_file = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list(out.glob("*/demo/items.jsonl")) if out.exists() else []
        if found and len(_items(found[0])) >= 3:
            items_file = found[0]
            break
        time.sleep(0.2)
    assert items_file is not None, "the run never scored 3 items"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    run_dir = items_file.parent.parent
    report = BenchReport.model_validate_json((run_dir / "report.json").read_text())
    (partial,) = report.scenarios
    assert not partial.complete and not report.passed and "SIGTERM" in (partial.aborted or "")
    scored = {it.id for it in _items(items_file)}
    assert 3 <= partial.n_scored == len(scored) < 12
    assert oct((run_dir / "report.json").stat().st_mode & 0o777) == "0o600"

    resumed = CliRunner().invoke(app, ["bench", "--resume", str(run_dir)])
    assert resumed.exception is None or isinstance(resumed.exception, SystemExit), resumed.output
    lines = [ItemResult.model_validate_json(line) for line in items_file.read_text().split("\n") if line.strip()]
    assert len(lines) == 12 == len({it.id for it in lines}), "no item scored twice"
    final = BenchReport.model_validate_json((run_dir / "report.json").read_text())
    assert final.scenarios[0].complete and final.scenarios[0].n_scored == 12
    assert resumed.exit_code == (0 if final.passed else 1), resumed.output
    assert json.loads((run_dir / "run.json").read_text())["limit"] == 12
