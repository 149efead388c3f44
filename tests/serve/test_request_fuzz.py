"""Hypothesis on request parsing: any JSON, any bytes. The request models raise nothing but a ValidationError,
and the server answers any body with a 2xx or a documented 4xx in the error shape, never echoing a planted
value."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from harness.config import ServeConfig
from harness.serve import ChatRequest, QueryRequest, create_app
from tests.fakes import LoopbackServer, SlowGenerator, small_pipeline

PLANTED = "priya.raghunathan@example.org"
keys = st.sampled_from(["question", "top_k", "messages", "role", "content", "type", "text", "model", "stream",
                        "stream_options", "include_usage", "n", "temperature", PLANTED])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=30), st.just(PLANTED), st.just("\ud800"),
                    st.sampled_from(["user", "text"]))
json_values = st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_request_models_raise_only_validation_errors(value: object) -> None:
    for model in (QueryRequest, ChatRequest):
        try:
            parsed = model.model_validate(value)
        except ValidationError:
            continue
        if isinstance(parsed, ChatRequest):
            parsed.question().encode("utf-8")  # what passes validation is valid Unicode


@pytest.fixture(scope="module")
def url():
    config = ServeConfig(max_body_bytes=4096)
    with LoopbackServer(create_app(config, lambda: small_pipeline(SlowGenerator(0.0)),
                                   load_in_background=False)) as base:
        yield base


def json_or_raw(value: object) -> bytes:
    try:
        return json.dumps(value).encode()
    except (TypeError, ValueError):
        return b"{"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(["/v1/query", "/v1/chat/completions"]),
       body=st.one_of(json_values.map(json_or_raw), st.binary(max_size=200),
                      st.just(json.dumps({"question": PLANTED * 200}).encode())))
def test_the_server_answers_any_body_cleanly(url: str, path: str, body: bytes) -> None:
    r = httpx.post(f"{url}{path}", content=body, headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code in (200, 400, 413, 422), r.status_code
    if r.status_code != 200:
        assert set(r.json()) == {"error"} and r.json()["error"]["request_id"] == r.headers["x-request-id"]
        assert PLANTED not in r.text
