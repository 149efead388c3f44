"""ragas's LLM-judge metrics end to end: real ragas classes, the real OpenAI client, a real uvicorn server on
127.0.0.1 (a rule-based judge from tests/fakes.py), and the on-disk judge cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import JudgeConfig
from harness.errors import BackendUnavailable
from harness.eval.judge import JudgeScorer
from harness.results import BenchReport, ItemResult
from tests.fakes import LoopbackServer, free_port, judge_app

runner = CliRunner()
CONTEXT = ["Hotels: the nightly cap is 180 EUR in Berlin. Breakfast is included in the cap."]


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAG_HARDEN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_ragas_metrics_through_the_judge_and_its_cache(minilm, cache: Path) -> None:
    app_ = judge_app()
    with LoopbackServer(app_) as url:
        judge = JudgeScorer(JudgeConfig(base_url=f"{url}/v1", model="judge"), minilm)
        good = judge.score("What is the hotel cap in Berlin?", "The nightly cap is 180 EUR in Berlin.", CONTEXT,
                           "The nightly cap in Berlin is 180 EUR.")
        bad = judge.score("What is the hotel cap in Berlin?", "The cap is 250 USD in Tokyo.", CONTEXT,
                          "The nightly cap in Berlin is 180 EUR.")
        calls = app_.state.calls
        again = JudgeScorer(JudgeConfig(base_url=f"{url}/v1", model="judge"), minilm).score(
            "What is the hotel cap in Berlin?", "The nightly cap is 180 EUR in Berlin.", CONTEXT,
            "The nightly cap in Berlin is 180 EUR.")
        assert app_.state.calls == calls, "a cached re-run must not call the judge"
        JudgeScorer(JudgeConfig(base_url=f"{url}/v1", model="judge"), minilm, use_cache=False).score(
            "What is the hotel cap in Berlin?", "The nightly cap is 180 EUR in Berlin.", CONTEXT, "x")
        assert app_.state.calls > calls, "--no-cache must call the judge"
    assert set(good) == {"faithfulness", "factual_correctness", "response_relevancy", "context_precision",
                         "context_recall"}
    assert good["faithfulness"] == 1.0 and bad["faithfulness"] == 0.0
    assert good["factual_correctness"] > bad["factual_correctness"]
    assert again == good
    assert len(list((cache / "judge").glob("*.json"))) >= 5


def test_an_unreachable_judge_is_named(minilm, cache: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    judge = JudgeScorer(JudgeConfig(base_url=url, model="judge", metrics=["faithfulness"]), minilm)
    with pytest.raises(BackendUnavailable, match="127.0.0.1"):
        judge.score("q", "The cap is 180 EUR.", CONTEXT, None)


def test_bench_reports_judge_metrics(tmp_path: Path, repo: Path, cache: Path) -> None:
    with LoopbackServer(judge_app()) as url:
        path = tmp_path / "judged.yaml"
        path.write_text(
            f"name: demo\ncorpus: {{paths: ['{repo}/golden_sets/demo_corpus']}}\n"  # the session's demo index
            f"golden_set: '{repo}/golden_sets/demo_golden.jsonl'\n"
            "pipeline: {generator: {backend: extractive}}\n"
            f"judge: {{base_url: '{url}/v1', model: judge, metrics: [faithfulness, context_recall]}}\n"
            "asserts: [{metric: judge.faithfulness, min: 0.5}]\n")
        result = runner.invoke(app, ["bench", str(path), "--limit", "4", "--out-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    (run_dir,) = list((tmp_path / "runs").iterdir())
    (scenario,) = BenchReport.model_validate_json((run_dir / "report.json").read_text()).scenarios
    assert scenario.metrics["judge.faithfulness"] is not None and scenario.metrics["judge.context_recall"] is not None
    items = [ItemResult.model_validate_json(x) for x in (run_dir / "demo" / "items.jsonl").read_text().splitlines()]
    assert all(it.judge_scores and "faithfulness" in it.judge_scores for it in items)
