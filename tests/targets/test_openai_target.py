"""`kind: openai`: an OpenAI-compatible chat endpoint on loopback as a closed-book target, through the openai
client: no retrieval (reported as not available), groundedness against reference_contexts, faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import BackendUnavailable
from harness.flow import score_scenario
from harness.targets import build_target
from harness.targets.base import TargetError
from harness.targets.config import OpenAITargetConfig
from tests.fakes import LoopbackServer, chat_completions_app, free_port
from tests.targets.helpers import load, target_parts, write_scenario


def _respond(messages: list[dict]) -> str:
    question = messages[-1]["content"]
    return "I don't know based on the provided documents." if "Mars" in question else "180 EUR per night."


def _golden(tmp_path: Path) -> Path:
    rows = [{"id": "hotel", "user_input": "What is the hotel cap in Berlin?", "reference": "180 EUR per night.",
             "reference_contexts": ["The hotel cap is 180 EUR per night in Berlin."],
             "reference_doc_ids": ["policies/travel"]},
            {"id": "mars", "user_input": "Who runs the office on Mars?", "answerable": False}]
    path = tmp_path / "g.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_closed_book_chat_endpoint_is_scored_with_what_it_returns(tmp_path: Path, scorers,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_KEY", "sk-chat-secret")
    app = chat_completions_app(_respond)
    with LoopbackServer(app) as url:
        path = write_scenario(tmp_path, "chat", golden=_golden(tmp_path), target={
            "kind": "openai", "base_url": f"{url}/v1", "model": "qwen", "api_key_env": "CHAT_KEY",
            "max_concurrency": 2}, asserts=[{"metric": "retrieval.hit@1", "min": 0.5}])
        sc = load(path)
        result = score_scenario(sc, path, tmp_path / "out", target_parts(sc, scorers), batch_size=2)
    assert result.complete and result.n_errors == 0
    assert app.state.requests[0]["authorization"] == "Bearer sk-chat-secret"
    assert app.state.requests[0]["body"]["messages"][-1]["content"] in {"What is the hotel cap in Berlin?",
                                                                        "Who runs the office on Mars?"}
    assert result.metrics["answer.rouge_l"] == pytest.approx(1.0)
    assert result.metrics["abstention.unanswerable_declined_rate"] == 1.0
    assert result.metrics["retrieval.hit@1"] is None and "closed-book" in result.unavailable["retrieval.hit@1"]
    assert not result.asserts[0].passed and "closed-book" in (result.asserts[0].reason or "")
    items = {i["id"]: i for i in map(json.loads, (tmp_path / "out" / "items.jsonl").read_text().splitlines())}
    assert items["hotel"]["grounded_against"] == "reference_contexts" and items["hotel"]["faithfulness"] is not None
    assert "sk-chat-secret" not in result.model_dump_json() + (tmp_path / "out" / "items.jsonl").read_text()


def test_chat_endpoint_faults() -> None:
    down = OpenAITargetConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", retries=0)
    with pytest.raises(BackendUnavailable, match=r"cannot reach target http://127\.0\.0\.1:\d+/v1"):
        build_target(down).answer("q")
    with LoopbackServer(chat_completions_app(_respond, status_code=500)) as url:
        with pytest.raises(TargetError, match="HTTP 500"):
            build_target(OpenAITargetConfig(base_url=f"{url}/v1", model="m", retries=0)).answer("q")
