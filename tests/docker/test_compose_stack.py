"""The compose stack's wiring, played on loopback without Docker: scenarios/compose.yaml served by the real
serve app (its keys from the environment, as compose passes them), its openai generator talking to an
OpenAI-compatible stand-in for `vllm serve`, and `rag-harden load` with a locust master and two workers
against the server. Only the hosts change (vllm:8000 and rag-harden:8080 become 127.0.0.1 ports) and the load
stages are shortened. Loads MiniLM and presidio: `load` tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load.runner import run_load
from harness.compose import build_guard_chain
from harness.config import LoadStage, load_scenario
from harness.pipeline.rag import build_pipeline
from harness.serve import create_app
from tests.fakes import LoopbackServer, chat_completions_app

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.load
def test_compose_scenario_serves_through_an_openai_endpoint_and_takes_load_from_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sc = load_scenario(REPO / "scenarios" / "compose.yaml")
    assert sc.pipeline.generator.backend == "openai" and sc.load is not None
    monkeypatch.setenv(sc.pipeline.generator.api_key_env or "", "vllm-test-key")
    monkeypatch.setenv(sc.serve.api_key_env or "", "rag-harden-test-key")
    vllm = chat_completions_app(lambda messages: "I don't know based on the provided documents.")
    with LoopbackServer(vllm) as vllm_url:
        generator = sc.pipeline.generator.model_copy(update={"base_url": f"{vllm_url}/v1"})
        load = sc.load.model_copy(update={"target": None, "quality_sample": 0, "arrival": "constant",
                                          "stages": [LoadStage(duration_s=2, rate=5)]})
        local = sc.model_copy(update={"pipeline": sc.pipeline.model_copy(update={"generator": generator}),
                                      "load": load})
        app = create_app(local.serve, lambda: build_pipeline(local, guards=build_guard_chain(local)),
                         load_in_background=False)
        with LoopbackServer(app) as url:
            result = run_load(local, target=url, workers=2)
    assert "HTTP 401" not in result.errors, f"the load client sent no bearer token: {result.errors}"
    assert result.n_scheduled == 10 and result.locust["workers"] == 2
    assert result.metrics["load.error_rate"] == 0, result.errors
    calls = vllm.state.requests
    assert len(calls) == 10 and {c["authorization"] for c in calls} == {"Bearer vllm-test-key"}
    assert {c["body"]["model"] for c in calls} == {sc.pipeline.generator.model}
