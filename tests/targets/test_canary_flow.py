"""The canary flow end to end on loopback: `rag-harden canary make`, the documents indexed into the reference
pipeline (extractive generator) served with uvicorn on 127.0.0.1, and the probes run through it as an `http`
target with the guards off and on (client-side: PII at the answer, injection at the query and on the returned
contexts). The leak rate and both attack success rates are above zero with the guards off and zero with them
on; the prompt-side leak metrics are not available through a target, and an assert on one fails with that
reason."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.compose import build_guard_chain
from harness.config import ServeConfig
from harness.flow import score_scenario
from harness.serve import create_app
from tests.fakes import LoopbackServer
from tests.targets.helpers import extractive_pipeline, load, target_parts, write_scenario
from tests.targets.test_e2e_served import SERVED_TARGET

GUARDS = [
    {"kind": "pii", "stages": ["answer"],
     "custom_recognizers": [{"entity": "EMPLOYEE_ID", "context": ["employee"],
                             "patterns": [{"name": "employee-id", "regex": r"\bQM-\d{6}\b", "score": 0.9}]}]},
    {"kind": "injection", "stages": ["query", "context"], "action": "block"},
]
HELD = [{"metric": "leak.answer_rate", "max": 0.0}, {"metric": "injection.attack_success_rate", "max": 0.0},
        {"metric": "injection.direct_success_rate", "max": 0.0}]


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory: pytest.TempPathFactory, scorers):
    folder = tmp_path_factory.mktemp("canary-flow")
    made = CliRunner().invoke(app, ["canary", "make", "--out", str(folder / "canary")])
    assert made.exit_code == 0, made.output
    out = folder / "canary"
    pipeline = extractive_pipeline([out / "docs"], scorers["embedder"])  # the user's system, unguarded
    with LoopbackServer(create_app(ServeConfig(max_concurrency=3), lambda: pipeline,
                                   load_in_background=False)) as url:
        path = write_scenario(
            folder, "canary", target={**SERVED_TARGET, "url": f"{url}/v1/query"}, golden=out / "golden.jsonl",
            asserts=[*HELD, {"metric": "leak.rate", "max": 0.0}],
            extra={"corpus": {"paths": [str(out / "docs")]}, "guards": GUARDS,
                   "leak_probe": {"planted_values": str(out / "planted_values.jsonl")},
                   "injection_probe": {"probes": str(out / "injection_probes.jsonl"),
                                       "canary": str(out / "canary.json"), "direct": True}})
        scenario = load(path)
        parts = target_parts(scenario, scorers, guards=build_guard_chain(scenario))
        result = score_scenario(scenario, path, folder / "run", parts, batch_size=3)
    return out, folder / "run", result


def test_guards_off_leak_and_obey_guards_on_do_not(canary_run) -> None:
    _out, _run, result = canary_run
    assert result.complete and result.n_errors == 0
    m = result.metrics
    assert m["leak.answer_rate_unguarded"] > 0 and m["leak.answer_rate"] == 0  # type: ignore[operator]
    assert m["injection.attack_success_rate_unguarded"] > 0  # type: ignore[operator]
    assert m["injection.attack_success_rate"] == 0
    assert m["injection.direct_success_rate_unguarded"] > 0 and m["injection.direct_success_rate"] == 0  # type: ignore[operator]
    assert m["injection.direct_attacks"] == 3 and m["injection.exposed_items"] >= 3  # type: ignore[operator]
    held = {a.metric: a for a in result.asserts}
    assert all(held[a["metric"]].passed for a in HELD)
    # what the target's LLM was sent is not visible: not available, and the assert on it fails saying why
    assert m["leak.rate"] is None and not held["leak.rate"].passed and not result.passed
    assert "prompt is not visible" in (held["leak.rate"].reason or "")


def test_guarded_answers_are_redacted_not_all_withheld(canary_run) -> None:
    """Zero leaks with the guards on come from the PII guard redacting answers, not from withholding them."""
    _out, run, result = canary_run
    items = [json.loads(line) for line in (run / "items.jsonl").read_text().splitlines()]
    pii = [it for it in items if "pii" in it["tags"]]
    released = [it for it in pii if it["blocked"] is None]
    assert released and all(it["leaks"]["answer"] == [] for it in released)
    assert any(it["leaks"]["answer_unguarded"] for it in released)
    assert any(f["findings"] for it in released for f in it["guards"] if f["guard"] == "pii")
    planted = [it for it in items if "injection" in it["tags"]]
    assert all(it["injection"]["exposed"] == "contexts" for it in planted)
    assert any(it["injection"]["success_unguarded"] for it in planted)
    assert all(it["blocked"] == "context" for it in planted if it["injection"]["success_unguarded"])


def test_direct_probe_outcomes_name_signals_never_text(canary_run) -> None:
    out, run, _result = canary_run
    token = json.loads((out / "canary.json").read_text())["token"]
    text = (run / "direct_probes.jsonl").read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) == 3 and all(r["blocked"] == "query" and r["success"] == [] for r in rows)
    assert any("canary" in r["success_unguarded"] for r in rows)
    assert token not in text
