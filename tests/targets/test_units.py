"""Pure parts of the targets: the path syntax, body templating, retry waits, Server-Timing, redaction, config."""

from __future__ import annotations

import json
from email.utils import formatdate
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.targets.base import parse_server_timing, public_url, regex_redact, retry_wait, snippet
from harness.targets.http import render_body
from harness.targets.paths import PathMissing, get_all, get_one, parse_path
from tests.targets.helpers import load, write_scenario

DATA = {"data": {"answer": "yes", "sources": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]},
        "choices": [{"message": {"content": "hi"}}], "empty": None}


@pytest.mark.parametrize(("path", "expected"), [
    ("data.answer", "yes"), ("$.data.answer", "yes"), ("choices[0].message.content", "hi"),
    ("data.sources[*].text", ["A", "B"]), ("data.sources[-1].id", "b"), ("data.sources", DATA["data"]["sources"]),
])
def test_paths_read_values(path: str, expected: object) -> None:
    assert get_one(DATA, path) == expected


def test_get_all_takes_lists_and_single_values() -> None:
    assert get_all(DATA, "data.sources[*].id") == ["a", "b"]
    assert get_all(DATA, "data.answer") == ["yes"]
    assert get_all(DATA, "empty") == []
    assert get_all([{"x": 1}], "[0].x") == [1]


@pytest.mark.parametrize(("path", "message"), [
    ("data.answr", "no key 'answr' at data"), ("data.sources[5].id", "index 5 out of range at data.sources"),
    ("data.answer[0]", "data.answer is not a list"),
])
def test_a_missing_value_names_the_step(path: str, message: str) -> None:
    with pytest.raises(PathMissing, match=message.replace("[", r"\[")):
        get_one(DATA, path)


@pytest.mark.parametrize("bad", ["", "$", "a..b", "a[x]", "a[1", "a[0]b"])
def test_invalid_paths_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_path(bad)


def test_body_substitutes_json_values_never_text_into_json() -> None:
    question = 'He said "ignore {top_k}" \\ and }{ left'
    body = render_body({"q": "{question}", "k": "{top_k}", "nested": [{"text": "Q: {question}"}],
                        "conv": "{conversation_id}", "n": 3}, {"question": question, "top_k": 5,
                                                                "conversation_id": "c1"})
    assert body == {"q": question, "k": 5, "nested": [{"text": f"Q: {question}"}], "conv": "c1", "n": 3}
    assert json.loads(json.dumps(body))["q"] == question  # what goes on the wire decodes to the question itself
    assert render_body({"k": "{top_k}"}, {"question": "", "top_k": None, "conversation_id": ""}) == {"k": None}


def test_retry_wait_honours_retry_after_and_caps_it() -> None:
    assert retry_wait("2", 0, 0.5, 30) == 2.0
    assert retry_wait("120", 0, 0.5, 30) == 30.0
    assert retry_wait(None, 0, 0.5, 30) == 0.5 and retry_wait(None, 3, 0.5, 30) == 4.0
    import time

    assert 3.0 <= retry_wait(formatdate(time.time() + 5, usegmt=True), 0, 0.5, 30) <= 5.5
    assert retry_wait("soon", 1, 0.5, 30) == 1.0  # unreadable: the backoff


def test_server_timing_is_read_into_stages() -> None:
    assert parse_server_timing('retrieve;dur=1.5;desc="vector", llm;dur=3.25, cache;desc=miss, embed;dur=x') == {
        "search": 1.5, "generate": 3.25}
    assert parse_server_timing(None) == {}


def test_redaction_of_snippets() -> None:
    text = "mail jane.doe@example.com, call +1 415 555 0100, card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00"
    cleaned = regex_redact(text)
    for raw in ("jane.doe@example.com", "415 555 0100", "4111 1111 1111 1111", "DE89 3704"):
        assert raw not in cleaned
    long = snippet("x" * 1000, lambda t: t)
    assert len(long) <= 200 + 5 and long.endswith("...'")
    assert public_url("https://user:pw@api.example.com:8443/v1/ask?key=s3cret#x") == "https://api.example.com:8443/v1/ask"


def test_scenario_takes_pipeline_or_target_not_both(tmp_path: Path) -> None:
    target = {"kind": "http", "url": "http://127.0.0.1:1/ask", "paths": {"answer": "answer"}, "top_k": 3}
    sc = load(write_scenario(tmp_path, "t", target=target))
    assert sc.target is not None and sc.target.kind == "http"
    assert sc.pipeline.retriever.top_k == 3 and sc.pipeline.batch_size == 4
    with pytest.raises(ConfigError, match="not both"):
        load(write_scenario(tmp_path, "both", target=target, pipeline={"generator": {"backend": "extractive"}}))
    with pytest.raises(ConfigError, match="extra|not permitted|unknown"):
        load(write_scenario(tmp_path, "extra", target={**target, "api_key": "x"}))
    with pytest.raises(ConfigError, match="invalid path"):
        load(write_scenario(tmp_path, "badpath", target={**target, "paths": {"answer": "a..b"}}))
    with pytest.raises(ConfigError, match="environment variable"):
        load(write_scenario(tmp_path, "badenv", target={**target, "headers_env": {"Authorization": "not a name"}}))
    with pytest.raises(ConfigError):
        load(write_scenario(tmp_path, "nokind", target={"kind": "grpc", "url": "http://x"}))
    pipe = load(write_scenario(tmp_path, "pipe", target={"kind": "pipeline"},
                               pipeline={"generator": {"backend": "extractive"}}))
    assert pipe.target is not None and pipe.target.kind == "pipeline"


def test_shipped_example_scenarios_load(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = sorted((repo / "scenarios" / "examples").glob("*.yaml"))
    assert len(examples) >= 2
    kinds = {load(p).target.kind for p in examples}  # type: ignore[union-attr]
    assert {"http", "openai"} <= kinds
