"""The bootstrap regression gate on item results (pure), and `rag-harden eval` / `calibrate` end to end."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.eval.regression import compare
from harness.results import ItemResult

runner = CliRunner()


def items(values: list[float], metric: str = "recall@5") -> list[ItemResult]:
    return [ItemResult(id=f"q{i}", user_input="q", answerable=True, retrieval={metric: v}) for i, v in enumerate(values)]


def test_identical_runs_do_not_regress() -> None:
    runs = items([1, 0, 1, 1, 0.5] * 10)
    result = compare("retrieval.recall@5", runs, runs, tolerance=0.02, faithfulness_threshold=0.85)
    assert result.delta == 0 and not result.regressed and result.n_paired == 50


def test_a_clear_drop_regresses_and_a_noisy_one_does_not() -> None:
    base = items([1.0] * 40)
    clear = items([1.0] * 20 + [0.0] * 20)
    verdict = compare("retrieval.recall@5", base, clear, tolerance=0.02, faithfulness_threshold=0.85)
    assert verdict.regressed and verdict.delta == pytest.approx(-0.5) and verdict.ci_high < 0
    noisy = items([1.0] * 39 + [0.0])  # one item flipped: -0.025, beyond tolerance but not outside noise
    verdict = compare("retrieval.recall@5", base, noisy, tolerance=0.02, faithfulness_threshold=0.85)
    assert not verdict.regressed and "within noise" in verdict.reason


def test_lower_is_better_metrics_regress_upwards() -> None:
    def answered(flags):
        return [ItemResult(id=f"u{i}", user_input="q", answerable=False, declined=not f) for i, f in enumerate(flags)]

    base, worse = answered([False] * 30), answered([True] * 15 + [False] * 15)
    verdict = compare("hallucination.answered_unanswerable_rate", base, worse, tolerance=0.02,
                      faithfulness_threshold=0.85)
    assert verdict.regressed and not verdict.higher_is_better


GOLDEN_ITEMS = 40  # of the demo set's 66: six of them rank their source second or third, so top_k 1 must regress


def scenario(tmp_path: Path, repo: Path, name: str, top_k: int = 5, max_sentences: int = 2) -> Path:
    path, golden = tmp_path / f"{name}.yaml", tmp_path / "golden.jsonl"
    lines = (repo / "golden_sets" / "demo_golden.jsonl").read_text().splitlines()[:GOLDEN_ITEMS]
    golden.write_text("\n".join(lines) + "\n")
    path.write_text(
        f"name: demo\ncorpus: {{paths: ['{repo}/golden_sets/demo_corpus']}}\n"
        f"golden_set: '{golden}'\n"
        f"pipeline:\n  retriever: {{top_k: {top_k}}}\n  generator: {{backend: extractive, max_sentences: {max_sentences}}}\n"
        "asserts: [{metric: retrieval.mrr, min: 0.5}]\n"
        "report: {redact_pii: false}\n"  # the gate, not redaction (tests/guards), is under test: a third of the CPU
    )
    return path


def test_eval_against_a_baseline_passes_unchanged_and_fails_degraded(tmp_path: Path, repo: Path) -> None:
    out = tmp_path / "runs"
    first = runner.invoke(app, ["eval", str(scenario(tmp_path, repo, "base")), "--out-dir", str(out)])
    assert first.exit_code == 0, first.output
    (base_dir,) = list(out.iterdir())
    baseline = base_dir / "report.json"

    same = runner.invoke(app, ["eval", str(scenario(tmp_path, repo, "base")), "--baseline", str(baseline),
                               "--out-dir", str(tmp_path / "same")])
    assert same.exit_code == 0, same.output
    assert "REGRESSED" not in same.stdout

    degraded = runner.invoke(app, ["eval", str(scenario(tmp_path, repo, "worse", top_k=1, max_sentences=1)),
                                   "--baseline", str(baseline), "--out-dir", str(tmp_path / "worse")])
    assert degraded.exit_code == 1, degraded.output
    (run_dir,) = list((tmp_path / "worse").iterdir())
    result = json.loads((run_dir / "eval.json").read_text())
    regressed = {c["metric"] for c in result["comparisons"] if c["regressed"]}
    assert "retrieval.mrr" in regressed
    assert "`retrieval.mrr`" in degraded.stdout and "**REGRESSED**" in degraded.stdout
    suites = {s.get("name"): s for s in ET.parse(run_dir / "junit.xml").getroot()}
    assert len(suites["demo.golden"]) == GOLDEN_ITEMS
    assert int(suites["demo.regressions"].get("failures")) == len(regressed)
    assert (run_dir / "summary.md").read_text().startswith("## rag-harden eval: demo: FAIL")


def test_eval_warns_about_golden_set_hygiene(tmp_path: Path, repo: Path) -> None:
    golden = tmp_path / "g.jsonl"
    rows = [
        {"id": "a", "user_input": "What is the hotel cap in Berlin?", "reference": "180 EUR per night.",
         "reference_doc_ids": ["policies/travel"]},
        {"id": "b", "user_input": "What is the hotel cap in Berlin ?", "reference": "180 EUR per night.",
         "reference_doc_ids": ["policies/travel"]},
        {"id": "c", "user_input": "What's the hotel cap for Berlin?", "reference": "180 EUR.",
         "reference_doc_ids": ["policies/travel"]},
        {"id": "d", "user_input": "How long is parental leave?", "reference": "52 weeks at Acme Corp.",
         "reference_doc_ids": ["policies/leave"]},
        {"id": "e", "user_input": "What is the on-call allowance?", "reference": "250 EUR per week.",
         "reference_doc_ids": ["engineering/oncall"]},
    ]
    golden.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    path = tmp_path / "h.yaml"
    # name: demo reuses the index the other demo-corpus tests of this process built (a build costs ~8 CPU-s)
    path.write_text(f"name: demo\ncorpus: {{paths: ['{repo}/golden_sets/demo_corpus']}}\ngolden_set: '{golden}'\n"
                    "pipeline: {generator: {backend: extractive}}\nreport: {redact_pii: false}\n")
    result = runner.invoke(app, ["eval", str(path), "--out-dir", str(tmp_path / "runs")])
    (run_dir,) = list((tmp_path / "runs").iterdir())
    warnings = {(w["kind"], w["item_id"]) for w in json.loads((run_dir / "eval.json").read_text())["warnings"]}
    assert ("duplicate", "b") in warnings
    assert ("near_duplicate", "c") in warnings
    assert ("unsupported_reference", "d") in warnings
    assert ("missing_document", "e") in warnings
    assert result.exit_code == 0


def test_calibrate_cli_on_a_small_labelled_file(tmp_path: Path) -> None:
    data = tmp_path / "h.jsonl"
    rows = [
        {"knowledge": "The Oberoi Group is a hotel company with its head office in Delhi.",
         "question": "Where is the head office?", "right_answer": "Delhi",
         "hallucinated_answer": "Mumbai, the financial capital of India."},
        {"knowledge": "Allie Goertz (born March 2, 1991) is an American musician.",
         "question": "When was Allie Goertz born?", "right_answer": "March 2, 1991",
         "hallucinated_answer": "She was born in 1987 in Canada."},
        {"knowledge": "Ewan MacColl was an English folk singer who died in 1989.",
         "question": "What nationality was Ewan MacColl?", "right_answer": "English",
         "hallucinated_answer": "He was an Irish poet."},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "cal.json"
    result = runner.invoke(app, ["calibrate", "--dataset", str(data), "--output", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    ours = report["detectors"][0]
    assert ours["detector"].startswith("groundedness") and ours["auroc"] == 1.0
    assert {d["detector"] for d in report["detectors"]} >= {"ragas rougeL precision", "ragas semantic similarity"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"knowledge": "k", "question": "q"}\n')
    failed = runner.invoke(app, ["calibrate", "--dataset", str(bad), "--output", str(out)])
    assert failed.exit_code == 2 and "right_answer" in failed.output


SHARED = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "halueval_qa_dev.jsonl"


@pytest.mark.slow  # a measurement on the whole dev split (minutes on 2 cores): `make test-all`
@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/benchmarks (present in CI, optional elsewhere)")
def test_calibration_on_the_halueval_dev_split(tmp_path: Path) -> None:
    out = tmp_path / "cal.json"
    result = runner.invoke(app, ["calibrate", "--dataset", str(SHARED), "--output", str(out)])
    assert result.exit_code == 0, result.output
    ours = json.loads(out.read_text())["detectors"][0]
    assert ours["auroc"] >= 0.92  # measured 0.937
    assert ours["heldout_balanced_accuracy"] >= 0.90  # measured 0.930
