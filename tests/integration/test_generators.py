"""Generator backends: a real (tiny, random-weight) transformers model, and the OpenAI-compatible HTTP
backend against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import OpenAIGeneratorConfig, PromptConfig, TransformersGeneratorConfig
from harness.errors import BackendUnavailable, ConfigError
from harness.pipeline.generators import GENERATORS
from harness.pipeline.prompt import build_messages
from harness.pipeline.protocols import GenerationRequest, Passage
from tests.fakes import LoopbackServer, chat_completions_app, free_port

PASSAGES = [Passage(number=1, chunk_id="travel#0", doc_id="travel", start=0, end=60, score=0.9,
                    text="Hotels: the nightly cap is 180 EUR in Berlin.")]


def request(question: str = "What is the hotel cap in Berlin?") -> GenerationRequest:
    return GenerationRequest(question=question, passages=PASSAGES,
                             messages=build_messages(question, PASSAGES, PromptConfig()))


def test_transformers_backend_generates_greedily_from_a_local_path(tiny_lm_dir: Path) -> None:
    cfg = TransformersGeneratorConfig(model=str(tiny_lm_dir), max_new_tokens=12, device="cpu", stop=[])
    generator = GENERATORS.build(cfg)
    first = generator.generate(request())
    second = generator.generate(request())
    assert first.text == second.text, "greedy decoding must be deterministic"
    assert first.prompt_tokens and first.prompt_tokens > 20
    assert 1 <= first.completion_tokens <= 12
    assert first.finish_reason in {"stop", "length"}
    assert generator.describe()["decoding"] == "greedy"


def test_transformers_backend_cuts_at_stop_strings(tiny_lm_dir: Path) -> None:
    free = GENERATORS.build(TransformersGeneratorConfig(model=str(tiny_lm_dir), max_new_tokens=24, device="cpu", stop=[]))
    text = free.generate(request()).text
    assert len(text) > 2
    stop = text[len(text) // 2: len(text) // 2 + 2]
    if not stop.strip():
        pytest.skip("random model produced whitespace at the cut point")
    cut = GENERATORS.build(TransformersGeneratorConfig(model=str(tiny_lm_dir), max_new_tokens=24, device="cpu",
                                                       stop=[stop]))
    result = cut.generate(request())
    assert stop not in result.text
    assert text.startswith(result.text)


def test_transformers_backend_names_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="no-such-model"):
        GENERATORS.build(TransformersGeneratorConfig(model=str(tmp_path / "no-such-model"), device="cpu"))


def test_openai_backend_against_a_real_server(monkeypatch: pytest.MonkeyPatch) -> None:
    app = chat_completions_app(lambda messages: "The cap is 180 EUR [1].")
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test-123")
    with LoopbackServer(app) as url:
        cfg = OpenAIGeneratorConfig(base_url=f"{url}/v1", model="served-model", api_key_env="TEST_LLM_KEY")
        generator = GENERATORS.build(cfg)
        result = generator.generate(request())
    assert result.text == "The cap is 180 EUR [1]."
    assert result.completion_tokens == 6 and result.finish_reason == "stop" and result.model == "served-model"
    sent = app.state.requests[0]
    assert sent["authorization"] == "Bearer sk-test-123"
    assert sent["body"]["messages"][1]["content"].count("[1]") >= 1
    assert sent["body"]["temperature"] == 0.0
    assert "sk-test-123" not in str(generator.describe())


def test_openai_backend_reports_http_errors_with_the_url() -> None:
    with LoopbackServer(chat_completions_app(lambda m: "", status_code=503)) as url:
        generator = GENERATORS.build(OpenAIGeneratorConfig(base_url=f"{url}/v1", model="m"))
        with pytest.raises(BackendUnavailable) as info:
            generator.generate(request())
    assert f"{url}/v1/chat/completions" in str(info.value) and "503" in str(info.value)


def test_openai_backend_names_an_unreachable_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    generator = GENERATORS.build(OpenAIGeneratorConfig(base_url=url, model="m", timeout_s=2))
    with pytest.raises(BackendUnavailable) as info:
        generator.generate(request())
    assert f"{url}/chat/completions" in str(info.value)


def test_openai_backend_requires_the_named_key_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSING_KEY_VAR", raising=False)
    with pytest.raises(ConfigError, match="MISSING_KEY_VAR"):
        GENERATORS.build(OpenAIGeneratorConfig(base_url="http://127.0.0.1:9/v1", model="m", api_key_env="MISSING_KEY_VAR"))


def test_unknown_backend_is_a_config_error() -> None:
    class Odd:
        backend = "nope"

    with pytest.raises(ConfigError, match="valid"):
        GENERATORS.build(Odd())
