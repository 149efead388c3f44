"""The report's redaction (what questions, answers and passages pass through before they are written): the
scenario's `report.redaction` when given, else its PII guard's configuration, else presidio's defaults."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from harness.compose import build_redactor
from harness.config import PiiGuardConfig, Scenario, load_scenario

LINE = "Lucas Ferreira, employee id QM-007105, personal email lucas.ferreira.dev@outlook.com"


def test_report_redaction_config_wins_over_the_guard_and_the_defaults(repo: Path) -> None:
    default = load_scenario(repo / "scenarios/default.yaml")
    assert default.report.redaction is not None  # the demo company's employee ids
    redacted = build_redactor(default)(LINE)
    assert "QM-007105" not in redacted and "<EMPLOYEE_ID>" in redacted
    assert "lucas.ferreira.dev@outlook.com" not in redacted

    # without report.redaction, the scenario's PII guard decides: its deny list applies, the id stays
    guarded = default.model_copy(
        update={
            "report": default.report.model_copy(update={"redaction": None}),
            "guards": [PiiGuardConfig(deny_list={"PERSON": ["Nadia Kowalczyk"]}, action="block")],
        }
    )
    text = "Ask Nadia Kowalczyk (employee id QM-007140)."
    out = build_redactor(guarded)(text)
    assert "Nadia Kowalczyk" not in out and "QM-007140" in out  # replaced, not blocked: the rest is kept
    assert out.startswith("Ask <PERSON>")


def test_report_redaction_is_validated_like_a_guard() -> None:
    with pytest.raises(pydantic.ValidationError, match="operatr"):
        Scenario.model_validate(
            {"name": "x", "golden_set": "g.jsonl", "report": {"redaction": {"operatr": "mask"}}}
        )
