"""`rag-harden load` against a real `serve` app on a real uvicorn server on 127.0.0.1, with locust in its own
process. Short, bounded runs (a few seconds, tens of requests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load.runner import run_load, slo_checks
from bench.load.schedule import arrival_times
from harness.config import LoadStage, ServeConfig, load_scenario
from harness.errors import BackendUnavailable
from harness.serve import create_app
from tests.fakes import LoopbackServer, SlowGenerator, free_port, small_pipeline

pytestmark = pytest.mark.load


def test_constant_and_poisson_schedules() -> None:
    stages = [LoadStage(duration_s=2, rate=10), LoadStage(duration_s=1, ramp_from=0, rate=20)]
    constant = arrival_times(stages, "constant", 0, 1000)
    assert constant[:3] == pytest.approx([0.0, 0.1, 0.2]) and all(b > a for a, b in zip(constant, constant[1:]))
    assert 28 <= len(constant) <= 32  # 20 in the first stage, about 10 in the ramp
    poisson = arrival_times(stages, "poisson", 0, 1000)
    assert poisson == arrival_times(stages, "poisson", 0, 1000)  # seeded
    assert 15 <= len(poisson) <= 50 and max(poisson) < 3.0
    assert len(arrival_times(stages, "constant", 0, 7)) == 7  # bounded by max_requests


def scenario(tmp_path: Path, repo: Path, target: str, stages: str, model: str = "open", request: str = "query") -> object:
    path = tmp_path / "load.yaml"
    path.write_text(
        f"corpus: {{paths: ['{repo}/golden_sets/demo_corpus']}}\ngolden_set: '{repo}/golden_sets/demo_golden.jsonl'\n"
        "pipeline: {generator: {backend: extractive}}\n"
        f"load: {{target: '{target}', request: {request}, model: {model}, arrival: constant, stages: {stages}, timeout_s: 5,"
        f" slo: {{p95_ms: 1000, goodput_ms: 1000}}, quality_sample: 0}}\n"
        "asserts: [{metric: load.error_rate, max: 0.0}, {metric: load.goodput, min: 0.9}]\n")
    return load_scenario(path)


def test_open_loop_against_serve_meets_its_slo(tmp_path: Path, repo: Path) -> None:
    app = create_app(ServeConfig(max_concurrency=4), lambda: small_pipeline(SlowGenerator(0.02)),
                     load_in_background=False)
    with LoopbackServer(app) as url:
        sc = scenario(tmp_path, repo, url, "[{duration_s: 2, rate: 10}]")
        result = run_load(sc)
    assert result.n_scheduled == 20 and result.n_completed == 20
    assert result.metrics["load.error_rate"] == 0 and result.metrics["load.goodput"] == 1.0
    assert result.latency.p50_ms >= 20  # the generator alone takes 20 ms
    assert result.latency.p50_ms >= result.service_time.p50_ms - 1  # measured from the schedule, never less
    assert result.offered_rps == pytest.approx(10)
    assert all(passed for *_, passed in slo_checks(sc, result))


def test_an_overloaded_server_shows_queueing_in_latency_and_sheds_with_429(tmp_path: Path, repo: Path) -> None:
    app = create_app(ServeConfig(max_concurrency=1, max_queue=2), lambda: small_pipeline(SlowGenerator(0.2)),
                     load_in_background=False)
    with LoopbackServer(app) as url:
        sc = scenario(tmp_path, repo, url, "[{duration_s: 2, rate: 15}]")
        result = run_load(sc)
    assert result.errors.get("HTTP 429", 0) > 0
    assert result.metrics["load.error_rate"] > 0.3
    assert not all(passed for *_, passed in slo_checks(sc, result))


def test_an_unreachable_target_is_named(tmp_path: Path, repo: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendUnavailable, match="127.0.0.1"):
        run_load(scenario(tmp_path, repo, url, "[{duration_s: 1, rate: 3}]"))


def test_two_locust_workers_share_the_open_loop_schedule(tmp_path: Path, repo: Path) -> None:
    app = create_app(ServeConfig(max_concurrency=4), lambda: small_pipeline(SlowGenerator(0.01)),
                     load_in_background=False)
    with LoopbackServer(app) as url:
        result = run_load(scenario(tmp_path, repo, url, "[{duration_s: 2, rate: 10}]"), workers=2)
    assert result.n_scheduled == 20 and result.n_completed == 20
    assert result.metrics["load.error_rate"] == 0
    assert result.locust["workers"] == 2 and result.locust["locust_requests"] == 20


def test_closed_loop_users(tmp_path: Path, repo: Path) -> None:
    app = create_app(ServeConfig(max_concurrency=4), lambda: small_pipeline(SlowGenerator(0.05)),
                     load_in_background=False)
    with LoopbackServer(app) as url:
        result = run_load(scenario(tmp_path, repo, url, "[{duration_s: 1.5, users: 2}]", model="closed"))
    assert result.n_completed >= 10 and result.metrics["load.error_rate"] == 0


def test_streaming_chat_reports_time_to_first_token(tmp_path: Path, repo: Path) -> None:
    app = create_app(ServeConfig(max_concurrency=4), lambda: small_pipeline(SlowGenerator(0.03)),
                     load_in_background=False)
    with LoopbackServer(app) as url:
        result = run_load(scenario(tmp_path, repo, url, "[{duration_s: 1, rate: 8}]", request="chat_stream"))
    assert result.metrics["load.error_rate"] == 0 and result.n_completed == 8
    assert result.metrics["load.ttft_p50_ms"] >= 30  # the answer is generated before the first token is sent
    assert result.metrics["load.ttft_p50_ms"] <= result.metrics["load.p50_ms"] + 1


def test_template_targets_map_request_and_answer_fields(tmp_path: Path, repo: Path) -> None:
    app = create_app(ServeConfig(), lambda: small_pipeline(SlowGenerator(0.0)), load_in_background=False)
    with LoopbackServer(app) as url:
        sc = scenario(tmp_path, repo, url, "[{duration_s: 1, rate: 5}]", request="template")
        load = sc.load.model_copy(update={
            "path": "/v1/chat/completions", "answer_field": "choices.0.message.content", "quality_sample": 5,
            "template": {"model": "x", "messages": [{"role": "user", "content": "{question}"}]}})
        result = run_load(sc.model_copy(update={"load": load}), score_answers=lambda pairs: float(len(pairs)))
    assert result.metrics["load.error_rate"] == 0
    assert result.metrics["load.answer.semantic_similarity"] == 5.0  # five answers were extracted


def test_bench_runs_the_load_phase_of_a_scenario(tmp_path: Path, repo: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app as cli
    from harness.results import BenchReport

    path = tmp_path / "with-load.yaml"
    path.write_text(
        f"name: withload\ncorpus: {{paths: ['{repo}/golden_sets/demo_corpus/policies']}}\n"
        f"golden_set: '{repo}/golden_sets/demo_golden.jsonl'\npipeline: {{generator: {{backend: extractive}}}}\n"
        "load: {model: open, arrival: constant, stages: [{duration_s: 1, rate: 3}], quality_sample: 3, timeout_s: 10}\n"
        "asserts: [{metric: load.error_rate, max: 0.0}, {metric: retrieval.mrr, min: 0.0}]\n")
    result = CliRunner().invoke(cli, ["bench", str(path), "--limit", "3", "--out-dir", str(tmp_path / "runs")])
    (run_dir,) = list((tmp_path / "runs").iterdir())
    (scenario_result,) = BenchReport.model_validate_json((run_dir / "report.json").read_text()).scenarios
    assert scenario_result.metrics["load.error_rate"] == 0.0 and scenario_result.metrics["load.p95_ms"] > 0
    assert {a.metric for a in scenario_result.asserts} == {"load.error_rate", "retrieval.mrr"}
    assert any(p.name.startswith("load-") for p in (run_dir / "withload").iterdir())
    assert result.exit_code == 0, result.output
