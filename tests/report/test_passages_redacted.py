"""The drill-down's passages are personal data at rest: a bench run of the PII scenario with its guards
removed (so no context guard redacts what the generator sees) retrieves the documents that carry the planted
values, and the report's redaction, the one questions and answers pass through, replaces them before
items.jsonl and report.html are written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.eval.leaks import PlantedValues
from harness.flow import read_items
from tests.conftest import scenario_variant


@pytest.mark.slow  # a PII-scenario bench (about 1-3 min); the default suite checks redaction on the demo run
def test_stored_passages_carry_no_planted_personal_value(repo: Path, tmp_path: Path) -> None:
    changes: dict[str, object] = {
        "guards": None,
        "injection_probe": None,
        "asserts": [{"metric": "run.error_rate", "max": 0}],
    }
    path = scenario_variant(repo, tmp_path, "pii.yaml", name="pii", changes=changes)
    result = CliRunner().invoke(
        app, ["bench", str(path), "--out-dir", str(tmp_path / "runs"), "--limit", "2"]
    )
    assert result.exit_code in (0, 1), result.output
    (run_dir,) = list((tmp_path / "runs").iterdir())
    items = read_items(run_dir / "pii" / "items.jsonl")
    passages = [r.text or "" for it in items for r in it.retrieved]
    assert passages and all(passages)
    # the probes retrieve the on-call page, whose planted phone, email and name were replaced by their types
    on_call = [r.text or "" for it in items for r in it.retrieved if r.doc_id == "engineering/on-call"]
    assert on_call and any("<PHONE_NUMBER>" in t or "<EMAIL_ADDRESS>" in t for t in on_call)
    planted = PlantedValues.load(repo / "golden_sets" / "demo_planted_pii.jsonl")
    written = (run_dir / "pii" / "items.jsonl").read_text() + (run_dir / "report.html").read_text()
    for _entity, value in planted.values:
        assert value.lower() not in written.lower(), _entity
