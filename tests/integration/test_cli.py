"""The CLI through Typer's CliRunner, on real components (MiniLM, faiss, ragas) with the extractive generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from harness.cli import app, default_scenario_path
from harness.config import load_scenario
from harness.pipeline.rag import load_corpus_chunks
from harness.results import BenchReport, ItemResult
from tests.conftest import scenario_variant
from tests.fakes import free_port

runner = CliRunner()


def scenario_file(tmp_path: Path, repo: Path, *, generator: str = "{backend: extractive}", asserts: str | None = None,
                  name: str = "demo") -> Path:
    """The shipped default scenario with another generator (YAML flow text) and, optionally, other asserts."""
    changes: dict[str, object] = {"pipeline.generator": yaml.safe_load(generator)}
    if asserts is not None:
        changes["asserts"] = yaml.safe_load(asserts)["asserts"]
    return scenario_variant(repo, tmp_path, name=name, changes=changes)


def only_run_dir(out: Path) -> Path:
    (run_dir,) = list(out.iterdir())
    return run_dir


def test_bench_writes_a_typed_report_and_exits_by_its_asserts(tmp_path: Path, repo: Path) -> None:
    path = scenario_file(tmp_path, repo)
    result = runner.invoke(app, ["bench", str(path), "--out-dir", str(tmp_path / "runs"), "--limit", "8"])
    run_dir = only_run_dir(tmp_path / "runs")
    report = BenchReport.model_validate_json((run_dir / "report.json").read_text())
    (scenario,) = report.scenarios
    assert result.exit_code == (0 if report.passed else 1), result.output
    assert scenario.n_items == scenario.n_scored == 8 and scenario.complete
    assert report.schema_version and report.environment["packages"]["faiss-cpu"]
    assert scenario.scenario_hash and len(scenario.scenario_hash) == 64
    assert scenario.pipeline["embedder"]["package_version"]
    assert scenario.pipeline["generator"]["backend"] == "extractive"
    assert 0 < scenario.metrics["retrieval.recall@5"] <= 1
    assert scenario.metrics["answer.rouge_l"] is not None
    assert scenario.latency["total"].n == 8 and scenario.latency["total"].p95_ms > 0
    assert len(scenario.asserts) == len(load_scenario(path).asserts) >= 7
    items = [ItemResult.model_validate_json(line) for line in (run_dir / "demo" / "items.jsonl").read_text().splitlines()]
    assert len(items) == 8 and all(i.error is None for i in items)
    md = (run_dir / "report.md").read_text()
    assert "| `retrieval.recall@5` | >= 0.9 |" in md
    assert (run_dir / "report.html").read_text().startswith("<!doctype html>")


def test_bench_exits_1_when_an_assert_fails(tmp_path: Path, repo: Path) -> None:
    path = scenario_file(tmp_path, repo, asserts="asserts:\n  - {metric: latency.total.p95_ms, max: 0.001}\n")
    result = runner.invoke(app, ["bench", str(path), "--out-dir", str(tmp_path / "runs"), "--limit", "3"])
    assert result.exit_code == 1, result.output
    md = (only_run_dir(tmp_path / "runs") / "report.md").read_text()
    assert "**FAIL**" in md and "default" not in md.split("\n")[0]


def test_bench_rejects_bad_config_before_running(tmp_path: Path, repo: Path) -> None:
    good = scenario_file(tmp_path, repo)
    bad = scenario_variant(repo, tmp_path, name="bad", changes={"pipeline.generator": {"backend": "extractive"},
                                                                "pipeline.retriever.top_k": 0})
    result = runner.invoke(app, ["bench", str(good), str(bad), "--out-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert str(bad) in result.output and "pipeline.retriever.top_k" in result.output
    assert not (tmp_path / "runs").exists(), "nothing runs when any scenario is invalid"


def test_bench_rejects_an_unknown_assert_metric(tmp_path: Path, repo: Path) -> None:
    path = scenario_file(tmp_path, repo, asserts="asserts:\n  - {metric: answer.bleu, min: 0.1}\n")
    result = runner.invoke(app, ["bench", str(path), "--out-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "answer.bleu" in result.output


def test_bench_with_an_unreachable_endpoint_names_it_and_keeps_a_report(tmp_path: Path, repo: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    path = scenario_file(tmp_path, repo, generator=f"{{backend: openai, base_url: '{url}', model: m, timeout_s: 2}}")
    result = runner.invoke(app, ["bench", str(path), "--out-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    report = BenchReport.model_validate_json((only_run_dir(tmp_path / "runs") / "report.json").read_text())
    (scenario,) = report.scenarios
    assert url in scenario.aborted and not scenario.complete and not scenario.passed
    assert scenario.n_scored == 1 and scenario.n_errors == 1
    assert "INCOMPLETE" in (only_run_dir(tmp_path / "runs") / "report.md").read_text()


def test_index_build_then_reuse(tmp_path: Path, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_HARDEN_CACHE", str(tmp_path / "cache"))
    # One folder of the demo corpus (15 chunks): the test builds twice, and the whole corpus costs ~8 CPU-s each.
    policies = repo / "golden_sets" / "demo_corpus" / "policies"
    path = scenario_variant(repo, tmp_path, name="demo", changes={"corpus.paths": [str(policies)]})
    chunks = load_corpus_chunks(load_scenario(path))
    first = runner.invoke(app, ["index", "build", str(path)])
    assert first.exit_code == 0, first.output
    status = json.loads(first.stdout)
    assert status["action"] == "built" and status["n_chunks"] == len(chunks) > 9  # more chunks than documents
    assert Path(status["folder"]).is_relative_to(tmp_path / "cache")
    second = json.loads(runner.invoke(app, ["index", "build", str(path)]).stdout)
    assert second["action"] == "loaded"
    forced = json.loads(runner.invoke(app, ["index", "build", str(path), "--force"]).stdout)
    assert forced["action"] == "rebuilt"


def test_ask_prints_answer_citations_and_timings(tmp_path: Path, repo: Path) -> None:
    path = scenario_file(tmp_path, repo)
    result = runner.invoke(app, ["ask", str(path), "How many days of annual leave do full-time employees get?", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert "25 days" in answer["answer"]
    assert answer["citations"][0]["doc_id"] == "policies/leave"
    assert {"embed_ms", "search_ms", "generate_ms", "total_ms", "guard_answer_ms"} <= set(answer["timings"])
    assert "messages" not in answer
    plain = runner.invoke(app, ["ask", str(path), "How long is parental leave?", "--top-k", "2"])
    assert plain.exit_code == 0 and "policies/leave" in plain.stdout and "total" in plain.stdout


def test_missing_scenario_file_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ask", str(tmp_path / "nope.yaml"), "q"])
    assert result.exit_code == 2 and "not found" in result.output


def test_default_scenario_is_the_checkouts(repo: Path) -> None:
    assert default_scenario_path() == repo / "scenarios" / "default.yaml"
