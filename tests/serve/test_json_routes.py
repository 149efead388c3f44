"""The hot POST routes served by the middleware (:mod:`harness.serving.json_routes`) answer every request as
FastAPI's router does: the same status, error type, message and field locations, the same body, the same
headers that matter, on a real uvicorn on 127.0.0.1, request by request, for valid, invalid and odd input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from bench.serve_overhead import FixedLatencyPipeline
from harness.config import ServeConfig
from harness.serve import create_app
from harness.serving.json_routes import is_json_type
from tests.fakes import LoopbackServer

JSON = {"content-type": "application/json"}
QUERY, CHAT = "/v1/query", "/v1/chat/completions"


def chat(content: object, **extra: object) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": content}], **extra}).encode()


def query(**fields: object) -> bytes:
    return json.dumps(fields).encode()


HOTEL = query(question="hotel cap?")
REQUESTS = [
    (QUERY, HOTEL, JSON),
    (QUERY, query(question="hotel cap?", top_k=3, include_text=True), JSON),
    (QUERY, json.dumps({"question": "", "top_k": 0, "someone@example.org": 1}).encode(), JSON),
    (QUERY, query(question="x" * 20_001), JSON),
    (QUERY, query(question={"nested": "value"}), JSON),
    (QUERY, b'{"question": "my card is 4111 1111 1111 1111"', JSON),  # truncated: json_invalid at a position
    (QUERY, b'{"question": "lone \\ud800 surrogate"}', JSON),
    (QUERY, b"", JSON),  # missing body
    (QUERY, b"[1, 2]", JSON),
    (QUERY, b"null", JSON),
    (QUERY, b"\xff\xfe{", JSON),  # not UTF-8: FastAPI's 400
    (QUERY, b"[" * 5000 + b"]" * 5000, JSON),  # nested past the recursion limit: 400
    (QUERY, HOTEL, {}),  # no content type
    (QUERY, HOTEL, {"content-type": "text/plain"}),
    (QUERY, HOTEL, {"content-type": "application/json; charset=utf-8"}),
    (QUERY, HOTEL, {"content-type": "application/merge-patch+json"}),
    (CHAT, chat("What is the hotel cap?", model="m", temperature=0.2, seed=3), JSON),
    (CHAT, chat([{"type": "text", "text": "hotel"}, {"type": "text", "text": "cap?"}]), JSON),
    (CHAT, chat("   "), JSON),  # no user text: the route's own 422
    (CHAT, chat([{"type": "image_url", "image_url": {"url": "mailto:someone@example.org"}}]), JSON),
    (CHAT, json.dumps({"messages": [{"role": "someone@example.org", "content": "hi"}]}).encode(), JSON),
    (CHAT, json.dumps({"messages": []}).encode(), JSON),
    (CHAT, chat("hotel cap?", temperature=3, n=2), JSON),
]

VOLATILE = ("id", "created")  # a chat completion's own id and second


class BrokenPipeline(FixedLatencyPipeline):
    def answer(self, question: str, top_k: int | None = None, *, guarded: bool = True) -> Any:
        raise RuntimeError(f"failed on {question}")  # the message holds input: it must not be sent


@contextmanager
def both(pipeline: FixedLatencyPipeline) -> Iterator[tuple[str, str]]:
    """A server with the direct routes and one without, in front of ``pipeline``."""
    apps = [
        create_app(ServeConfig(), lambda: pipeline, load_in_background=False, direct_routes=d)
        for d in (True, False)
    ]
    with LoopbackServer(apps[0]) as direct, LoopbackServer(apps[1]) as routed:
        yield direct, routed
    assert set(apps[0].middleware_stack.routes) == {QUERY, CHAT}  # the direct app did serve them itself
    assert not apps[1].middleware_stack.routes


@pytest.fixture(scope="module")
def urls():
    with both(FixedLatencyPipeline(0.0)) as pair:
        yield pair


def comparable(r: httpx.Response) -> tuple:
    body = r.json()
    if "error" in body:
        assert body["error"]["request_id"] == r.headers["x-request-id"]
        body["error"].pop("request_id")
    for key in VOLATILE:
        body.pop(key, None)
    headers = {k: r.headers.get(k) for k in ("content-type", "retry-after", "www-authenticate", "connection")}
    return r.status_code, body, headers


@pytest.mark.parametrize("path,body,headers", REQUESTS)
def test_the_direct_route_answers_as_fastapi_does(urls, path: str, body: bytes, headers: dict) -> None:
    direct, routed = (httpx.post(f"{url}{path}", content=body, headers=headers, timeout=10) for url in urls)
    assert comparable(direct) == comparable(routed), (direct.text[:300], routed.text[:300])


def test_a_streamed_chat_sends_the_same_events(urls) -> None:
    events = []
    for url in urls:
        r = httpx.post(f"{url}{CHAT}", content=chat("hotel cap?", stream=True), headers=JSON, timeout=10)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line.removeprefix("data: ") for line in r.text.splitlines() if line.startswith("data: ")]
        assert lines[-1] == "[DONE]"
        chunks = [json.loads(line) for line in lines[:-1]]
        events.append([{k: v for k, v in c.items() if k not in VOLATILE} for c in chunks])
    assert events[0] == events[1] and len(events[0]) >= 3


@pytest.mark.parametrize(
    "content_type,is_json",
    [
        (b"application/json", True),
        (b"Application/JSON; charset=utf-8", True),
        (b"application/ld+json", True),
        (b"application/jsonx", False),
        (b"text/json", False),
        (b"json", False),
        (b"", False),
    ],
)
def test_json_content_types_as_fastapi_reads_them(content_type: bytes, is_json: bool) -> None:
    assert is_json_type(content_type) is is_json


def test_a_failing_pipeline_gets_the_same_500() -> None:
    secret = "someone@example.org"
    with both(BrokenPipeline(0.0)) as pair:
        for path, body in (
            (QUERY, query(question=secret)),
            (CHAT, chat(secret)),
            (CHAT, chat(secret, stream=True)),
        ):
            direct, routed = (
                httpx.post(f"{url}{path}", content=body, headers=JSON, timeout=10) for url in pair
            )
            assert direct.status_code == 500 and secret not in direct.text
            assert comparable(direct) == comparable(routed)
