"""Calibration: input formats and their errors, figures with bootstrap intervals, the CLI with baselines."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import ConfigError
from harness.eval.calibration import Case, auroc, best_threshold, bootstrap, calibrate_detector, load_cases

runner = CliRunner()
PAIRS = [
    {
        "knowledge": "The Oberoi Group is a hotel company with its head office in Delhi.",
        "question": "Where is the head office?",
        "right_answer": "Delhi",
        "hallucinated_answer": "Mumbai, the financial capital of India.",
    },
    {
        "knowledge": "Allie Goertz (born March 2, 1991) is an American musician.",
        "question": "When was Allie Goertz born?",
        "right_answer": "March 2, 1991",
        "hallucinated_answer": "She was born in 1987 in Canada.",
    },
]
SINGLES = [
    {
        "context": ["Ewan MacColl was an English folk singer.", "He died in 1989."],
        "answer": "Ewan MacColl was an English folk singer. He died in 1989.",
        "hallucinated": False,
    },
    {
        "context": "Ewan MacColl was an English folk singer. He died in 1989.",
        "question": "Who was he?",
        "answer": "Ewan MacColl was an Irish poet who died in 1975.",
        "hallucinated": True,
    },
    {
        "context": "Taxis are reimbursed after 22:00.",
        "answer": "Taxis are reimbursed after 22:00 [1].",
        "hallucinated": False,
        "group": "taxi",
    },
    {
        "context": "Taxis are reimbursed after 22:00.",
        "answer": "Taxis are never reimbursed.",
        "hallucinated": True,
        "group": "taxi",
    },
]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_both_input_formats_load_into_cases(tmp_path: Path) -> None:
    cases = load_cases(_write(tmp_path / "d.jsonl", PAIRS + SINGLES))
    assert len(cases) == 2 * len(PAIRS) + len(SINGLES)
    assert [c.hallucinated for c in cases[:4]] == [False, True, False, True]
    assert cases[0].item == cases[1].item  # both answers of a pair are one item
    assert cases[4].context == SINGLES[0]["context"] and cases[5].context == [SINGLES[1]["context"]]
    assert cases[-1].item == cases[-2].item == "taxi"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"knowledge": "k", "question": "q"}, "right_answer"),
        ({"context": 3, "answer": "a", "hallucinated": True}, "context"),
        ({"context": "c", "answer": "a", "hallucinated": "yes"}, "hallucinated"),
        ({"context": "c", "hallucinated": False}, "answer"),
        ({"context": ["c", 1], "answer": "a", "hallucinated": False}, "context"),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path: Path, row: dict, field: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [SINGLES[0], row])
    with pytest.raises(ConfigError) as info:
        load_cases(path)
    assert f"{path}:2" in str(info.value) and f"'{field}'" in str(info.value)


def test_auroc_matches_sklearn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    scores, labels = rng.integers(0, 5, 60).astype(float), rng.random(60) < 0.4
    assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))


def test_best_threshold_maximises_balanced_accuracy() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9, 0.35])
    labels = np.array([False, False, False, True, True, True])
    threshold, accuracy = best_threshold(scores, labels)
    assert threshold == pytest.approx(0.35) and accuracy == pytest.approx(1.0)


def test_bootstrap_interval_contains_the_value_and_shrinks_with_more_items() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.random(20) < 0.5, rng.random(2000) < 0.5
    a = bootstrap(lambda ix: float(small[ix].mean()), np.arange(20), 500)
    b = bootstrap(lambda ix: float(large[ix].mean()), np.arange(2000), 500)
    assert a.low <= a.value <= a.high and b.low <= b.value <= b.high
    assert b.high - b.low < a.high - a.low


def test_calibrate_detector_at_the_shipped_threshold() -> None:
    cases = [
        Case(item=str(i // 2), context=["c"], question="q", answer="a", hallucinated=bool(i % 2))
        for i in range(40)
    ]
    faithfulness = [0.2 if c.hallucinated else 0.9 for c in cases]
    faithfulness[1] = 0.95  # one hallucination it misses
    faithfulness[2] = 0.3  # one grounded answer it flags
    r = calibrate_detector(
        "toy", faithfulness, cases, higher_is_grounded=True, shipped_threshold=0.5, n_boot=200
    )
    assert r.confusion == {"tp": 19, "fp": 1, "tn": 19, "fn": 1}
    assert r.specificity_at_shipped_threshold == pytest.approx(0.95)
    assert r.balanced_accuracy_at_shipped_threshold == pytest.approx(0.95)
    lo, hi = r.balanced_accuracy_at_shipped_threshold_ci
    assert lo <= 0.95 <= hi < 1.0 + 1e-9 and lo < 0.95
    assert r.auroc == pytest.approx(0.95) and r.auroc_ci[0] <= r.auroc <= r.auroc_ci[1]
    assert r.flagged_rate_at_shipped_threshold == pytest.approx(0.5)
    length = calibrate_detector(
        "len",
        [len(c.answer) + c.hallucinated for c in cases],
        cases,
        higher_is_grounded=False,
        baseline=True,
        n_boot=200,
    )
    assert length.shipped_threshold is None and length.balanced_accuracy_at_best_threshold == 1.0


def test_calibrate_cli_with_both_formats_reports_detectors_and_baselines(tmp_path: Path) -> None:
    data = _write(tmp_path / "d.jsonl", PAIRS + SINGLES)
    out = tmp_path / "cal.json"
    result = runner.invoke(
        app, ["calibrate", "--dataset", str(data), "--output", str(out), "--n-boot", "200"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["tool"] == "rag-harden" and len(report["scenario_hash"]) == 64
    assert report["n_cases"] == 8 and report["n_hallucinated"] == 4
    ours, *others = report["detectors"]
    assert ours["detector"].startswith("groundedness") and not ours["baseline"]
    for key in ("auroc", "balanced_accuracy_at_shipped_threshold", "specificity_at_shipped_threshold"):
        lo, hi = ours[f"{key}_ci"]
        assert lo <= ours[key] <= hi
    assert ours["shipped_threshold"] > 0
    baselines = {d["detector"] for d in others if d["baseline"]}
    assert {"answer length (content words)", "ragas rougeL precision"} <= baselines
    assert "AUROC" in result.output and "(baseline)" in result.output
    bad = _write(tmp_path / "bad.jsonl", [{"context": "c", "answer": "a"}])
    failed = runner.invoke(app, ["calibrate", "--dataset", str(bad), "--output", str(out)])
    assert failed.exit_code == 2 and "hallucinated" in failed.output
