"""Real clients against `rag-harden serve` on 127.0.0.1: the official `openai` package, and the requests
guidellm 0.8.1 sends (read from its source: GET /health, GET /v1/models, chat messages whose content is a list
of text parts, `stream_options` with `include_usage`, `max_completion_tokens`, `stop: null`, `ignore_eos`).
Issue 10, real clients: `models.list()` gave 404 and content parts 422, so guidellm could not run at all."""

from __future__ import annotations

import json

import httpx
import pytest
from openai import OpenAI

from harness.config import ServeConfig
from harness.serve import create_app
from harness.serving.sse import DONE, iter_sse
from tests.fakes import LoopbackServer, SlowGenerator, small_pipeline

TOKEN = "test-token-not-a-secret"


@pytest.fixture(scope="module")
def url():
    mp = pytest.MonkeyPatch()
    mp.setenv("RAG_HARDEN_CLIENT_TEST_TOKEN", TOKEN)
    config = ServeConfig(model_name="handbook-rag", api_key_env="RAG_HARDEN_CLIENT_TEST_TOKEN")
    app = create_app(config, lambda: small_pipeline(SlowGenerator(0.0)), load_in_background=False)
    with LoopbackServer(app) as base:
        yield base
    mp.undo()


def test_openai_client_lists_the_served_model(url: str) -> None:
    client = OpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0)
    assert [m.id for m in client.models.list()] == ["handbook-rag"]


def test_openai_client_chat_with_content_parts_gets_the_served_model_name(url: str) -> None:
    client = OpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0)
    completion = client.chat.completions.create(
        model="gpt-4o-mini", temperature=0, max_tokens=64,
        messages=[{"role": "system", "content": "Answer from the handbook."},
                  {"role": "user", "content": [{"type": "text", "text": "What is the hotel cap"},
                                               {"type": "text", "text": "in Berlin?"}]}])
    assert completion.model == "handbook-rag"
    assert completion.choices[0].message.content == "A fixed answer [1]."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens == 24


def test_openai_client_streaming_with_include_usage(url: str) -> None:
    client = OpenAI(base_url=f"{url}/v1", api_key=TOKEN, max_retries=0)
    stream = client.chat.completions.create(
        model="handbook-rag", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "What is the hotel cap?"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "A fixed answer [1]."
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens == 4
    assert all(c.usage is None for c in chunks[:-1]) and {c.model for c in chunks} == {"handbook-rag"}


def test_openai_client_without_the_token_is_refused(url: str) -> None:
    import openai

    client = OpenAI(base_url=f"{url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        client.models.list()
    assert info.value.status_code == 401


def test_the_requests_guidellm_sends(url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        assert client.get("/health").status_code == 200
        models = client.get("/v1/models").json()
        model = [item["id"] for item in models["data"]][0]
        body = {"model": model, "stream": True,
                "stream_options": {"include_usage": True, "continuous_usage_stats": True},
                "max_completion_tokens": 32, "stop": None, "ignore_eos": True,
                "messages": [{"role": "user",
                              "content": [{"type": "text", "text": "What is the hotel cap?"}]}]}
        with client.stream("POST", "/v1/chat/completions", json=body) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            events = list(iter_sse(r.iter_bytes()))
        plain = client.post("/v1/chat/completions", json={**body, "stream": False, "stream_options": None})
    assert model == "handbook-rag" and events[-1] == DONE
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "A fixed answer [1]."
    assert chunks[-1]["usage"] == {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24}
    assert plain.status_code == 200 and plain.json()["usage"]["completion_tokens"] == 4
