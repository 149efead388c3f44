"""`guard eval` for the PII guard: span scoring, bootstrap intervals, the regex baseline beside the guard, the
template split, the result header and the JSON the CLI writes. The labelled texts are written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guards.evaluation import RegexBaseline, evaluate, in_split, load_labelled, render_table
from guards.pii import PresidioPiiGuard
from harness.config import PiiGuardConfig
from harness.errors import ConfigError

SHARED_DEV = Path(__file__).resolve().parents[3] / "shared" / "benchmarks" / "presidio_synth_dev.jsonl"

ROWS = [
    ("Write to joana.sousa@quillmarklabs.com today.", [("EMAIL_ADDRESS", "joana.sousa@quillmarklabs.com")]),
    ("Her mobile is +351 912 345 678, call after six.", [("PHONE_NUMBER", "+351 912 345 678")]),
    ("Ring me: 0489 25 37 29", [("PHONE_NUMBER", "0489 25 37 29")]),
    ("Paid with 4111 1111 1111 1111 yesterday.", [("CREDIT_CARD", "4111 1111 1111 1111")]),
    ("SSN on file: 512-44-7321.", [("US_SSN", "512-44-7321")]),
    ("Michael Brennan relocates to Porto next year.", [("PERSON", "Michael Brennan"), ("GPE", "Porto")]),
    ("The Order 2023-04518 of New Line Cinema was shipped on 2024-03-15.", []),
    ("Transfer it to GB82 WEST 1234 5698 7654 32 by Friday.", [("IBAN_CODE", "GB82 WEST 1234 5698 7654 32")]),
    ("Ask Dr. Okonkwo at the front desk.", [("PERSON", "Okonkwo")]),
    ("The gateway at 10.20.30.40 failed.", [("IP_ADDRESS", "10.20.30.40")]),
]


def _write(path: Path, rows=ROWS) -> Path:
    with path.open("w") as fh:
        for i, (text, spans) in enumerate(rows):
            labelled = [
                {
                    "entity_type": t,
                    "entity_value": v,
                    "start_position": text.index(v),
                    "end_position": text.index(v) + len(v),
                }
                for t, v in spans
            ]
            fh.write(json.dumps({"full_text": text, "spans": labelled, "template_id": i}) + "\n")
    return path


@pytest.fixture(scope="module")
def guard() -> PresidioPiiGuard:
    return PresidioPiiGuard(PiiGuardConfig())


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    return _write(tmp_path / "pii.jsonl")


def test_report_has_intervals_a_baseline_and_a_header(guard: PresidioPiiGuard, data: Path) -> None:
    report = evaluate(guard, data, sorted(guard.config.entities), n_boot=300)
    assert report.n_texts == len(ROWS) and report.scenario_hash and report.created_at
    assert report.model == guard.model
    # Every gold identifier here is found, and nothing is flagged in the look-alike sentence.
    assert report.structured_recall == 1.0 and report.detector.structured.predicted == 7
    for figure, ci in [(report.f2, report.f2_ci), (report.structured_recall, report.structured_recall_ci)]:
        assert figure is not None and ci.low is not None and ci.high is not None
        assert ci.low <= figure <= ci.high
    assert report.baseline.detector == "regex baseline"
    assert report.baseline.overall.f2 is not None and report.f2 is not None
    assert (
        report.f2 > report.baseline.overall.f2
    )  # the baseline flags the order number, dates and "New Line Cinema"
    assert (
        report.f2_gain_ci.low is not None and report.f2_gain_ci.low <= report.f2 - report.baseline.overall.f2
    )
    person = next(e for e in report.detector.per_entity if e.entity == "PERSON")
    assert person.support == 2 and person.recall_ci is not None
    table = render_table(report)
    assert "regex baseline" in table and "structured identifiers" in table and "[" in table


def test_intervals_are_reproducible_with_the_seed(guard: PresidioPiiGuard, data: Path) -> None:
    a = evaluate(guard, data, ["PERSON", "PHONE_NUMBER"], n_boot=200, seed=3)
    b = evaluate(guard, data, ["PERSON", "PHONE_NUMBER"], n_boot=200, seed=3)
    assert a.f2_ci == b.f2_ci and a.baseline.overall.f2_ci == b.baseline.overall.f2_ci


def test_regex_baseline_is_a_plain_pattern_list() -> None:
    base = RegexBaseline(["PHONE_NUMBER", "EMAIL_ADDRESS", "PERSON"])
    spans = {
        (s.entity_type, s.start, s.end) for s in base.analyze("Invoice 2023-04518 for Anna Berg: a@b.io")
    }
    kinds = sorted(t for t, _, _ in spans)
    assert kinds == ["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"]  # it mistakes the invoice number for a phone


def test_split_halves_partition_templates(tmp_path: Path) -> None:
    rows = [(f"Text {i} by Anna Berg.", [("PERSON", "Anna Berg")]) for i in range(40)]
    path = _write(tmp_path / "many.jsonl", rows)
    a, b = load_labelled(path, "a"), load_labelled(path, "b")
    assert len(a) + len(b) == 40 and a and b
    assert {t for t, _ in a}.isdisjoint({t for t, _ in b})
    assert in_split(7, "a") != in_split(7, "b")


@pytest.mark.parametrize(
    "line, message",
    [('{"spans": []}', "full_text"), ('{"full_text": "x", "spans": [{"entity_type": "PERSON"}]}', "spans")],
)
def test_bad_rows_are_config_errors(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=message):
        load_labelled(path)


def test_cli_writes_f2_and_structured_recall_with_intervals(data: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, ["guard", "eval", "--dataset", str(data), "--output", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    for key in (
        "f2",
        "f2_ci",
        "structured_recall",
        "structured_recall_ci",
        "precision",
        "recall",
        "baseline",
        "scenario_hash",
        "git_commit",
        "created_at",
    ):
        assert key in report
    assert report["baseline"]["overall"]["f2_ci"]["low"] is not None
    assert "regex baseline" in result.output
    assert "joana.sousa" not in out.read_text()  # figures only, never the personal values


def test_cli_rejects_an_unknown_split(data: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app

    result = CliRunner().invoke(
        app, ["guard", "eval", "--dataset", str(data), "--split", "c", "--output", str(tmp_path / "x.json")]
    )
    assert result.exit_code == 2


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_DEV.is_file(), reason="../shared/benchmarks is not available")
def test_dev_split_beats_the_baseline_and_reaches_the_structured_aim(guard: PresidioPiiGuard) -> None:
    report = evaluate(guard, SHARED_DEV, sorted(guard.config.entities), n_boot=500)
    assert report.f2 is not None and report.baseline.overall.f2 is not None
    assert report.f2_gain_ci.low is not None and report.f2_gain_ci.low > 0
    assert report.structured_recall is not None and report.structured_recall >= 0.95
