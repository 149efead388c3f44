"""Robustness of `serve`: a slow client does not stall others, a generator that goes away gives clean errors
and recovery when it returns, and shutdown finishes in-flight requests."""

from __future__ import annotations

import socket
import threading
import time

import httpx

from harness.config import OpenAIGeneratorConfig, ServeConfig
from harness.pipeline.generators.openai_http import OpenAIChatGenerator
from harness.serve import BackgroundServer, create_app
from tests.fakes import SlowGenerator, chat_completions_app, free_port, small_pipeline


def app_for(pipeline, **limits):
    return create_app(ServeConfig(**limits), lambda: pipeline, load_in_background=False)


def test_a_slow_client_does_not_stall_the_others() -> None:
    with BackgroundServer(app_for(small_pipeline(SlowGenerator(0.0)))) as url:
        host, port = url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)))
        slow.sendall(b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 40\r\n\r\n{\"qu")
        started = time.monotonic()
        codes = [httpx.post(f"{url}/v1/query", json={"question": "hotel"}).status_code for _ in range(5)]
        elapsed = time.monotonic() - started
        slow.close()
    assert codes == [200] * 5 and elapsed < 3


def test_generator_going_away_gives_503_and_recovers_when_it_returns() -> None:
    port = free_port()
    generator = OpenAIChatGenerator(OpenAIGeneratorConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m",
                                                          timeout_s=2))
    upstream = chat_completions_app(lambda messages: "Upstream answer [1].")
    with BackgroundServer(app_for(small_pipeline(generator))) as url:
        with BackgroundServer(upstream, port=port):
            first = httpx.post(f"{url}/v1/query", json={"question": "hotel"})
            assert first.json()["answer"] == "Upstream answer [1]."
        gone = httpx.post(f"{url}/v1/query", json={"question": "hotel"})
        assert gone.status_code == 503 and f"127.0.0.1:{port}" in gone.json()["error"]["message"]
        with BackgroundServer(upstream, port=port):
            back = httpx.post(f"{url}/v1/query", json={"question": "hotel"})
        assert back.status_code == 200
        metrics = httpx.get(f"{url}/metrics").text
    assert 'rag_harden_errors_total{kind="backend_unavailable"} 1.0' in metrics


def test_shutdown_finishes_in_flight_requests() -> None:
    app = app_for(small_pipeline(SlowGenerator(0.6)))
    server = BackgroundServer(app)
    url = server.__enter__()
    result: dict = {}

    def call() -> None:
        result["response"] = httpx.post(f"{url}/v1/query", json={"question": "hotel"}, timeout=10)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 10
    while app.state.admission.running == 0 and time.monotonic() < deadline:  # wait until it is in flight
        time.sleep(0.01)
    server.__exit__(None, None, None)  # asks uvicorn to exit while the request is in flight
    thread.join(timeout=10)
    assert result["response"].status_code == 200
