"""`rag-harden bench` on targets with the real models (MiniLM, faiss, ragas, the offline groundedness scorer):
the shipped default scenario served over HTTP scores like in process; an unreachable target exits 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.results import BenchReport
from tests.conftest import scenario_variant
from tests.fakes import free_port

runner = CliRunner()
COMPARED = ("retrieval.", "answer.", "groundedness.", "hallucination.", "abstention.")


def _bench(path: Path, out: Path, limit: int = 10) -> tuple[int, BenchReport, str]:
    result = runner.invoke(app, ["bench", str(path), "--out-dir", str(out), "--limit", str(limit)])
    (run_dir,) = list(out.iterdir())
    return result.exit_code, BenchReport.model_validate_json((run_dir / "report.json").read_text()), result.output


@pytest.mark.slow
def test_served_default_scenario_benched_over_http_equals_in_process(tmp_path: Path, repo: Path) -> None:
    from harness.compose import build_guard_chain
    from harness.config import load_scenario
    from harness.pipeline.rag import build_pipeline
    from harness.serve import BackgroundServer, create_app

    local = scenario_variant(repo, tmp_path, name="local", changes={
        "pipeline.generator": {"backend": "extractive"}, "asserts": []})
    _, inproc, _ = _bench(local, tmp_path / "runs-local")
    sc = load_scenario(local)
    pipeline = build_pipeline(sc, guards=build_guard_chain(sc))
    with BackgroundServer(create_app(sc.serve, lambda: pipeline, load_in_background=False)) as url:
        served_path = scenario_variant(repo, tmp_path, name="served", changes={"pipeline": None, "asserts": [], "target": {
            "kind": "http", "url": f"{url}/v1/query", "top_k": 5,
            "body": {"question": "{question}", "top_k": "{top_k}", "include_text": True},
            "paths": {"answer": "answer", "contexts": "passages[*].text", "doc_ids": "passages[*].doc_id",
                      "blocked": "blocked"}}})
        code, served, output = _bench(served_path, tmp_path / "runs-served")
    assert code == 0, output
    (a,), (b,) = inproc.scenarios, served.scenarios
    assert b.complete and b.n_errors == 0 and b.pipeline["target"]["kind"] == "http"
    expected = {k: None if v is None else round(v, 3) for k, v in a.metrics.items() if k.startswith(COMPARED)}
    got = {k: None if v is None else round(v, 3) for k, v in b.metrics.items() if k.startswith(COMPARED)}
    assert got == expected
    assert got["retrieval.recall@5"] and got["groundedness.faithfulness_mean"] and got["answer.semantic_similarity"]


@pytest.mark.slow
def test_an_unreachable_target_exits_2_naming_the_url(tmp_path: Path, repo: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/ask"
    path = scenario_variant(repo, tmp_path, name="down", changes={"pipeline": None, "target": {
        "kind": "http", "url": url, "paths": {"answer": "answer"}}})
    code, report, output = _bench(path, tmp_path / "runs", limit=3)
    assert code == 2
    assert url in (report.scenarios[0].aborted or "")
