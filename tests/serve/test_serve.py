"""`rag-harden serve` on a real uvicorn server on 127.0.0.1: endpoints, streaming, metrics, overload,
failures."""

from __future__ import annotations

import json
import threading
import time

import httpx

from guards import build_guards
from harness.config import PiiGuardConfig, ServeConfig
from harness.serve import create_app
from tests.fakes import FailingGenerator, LoopbackServer, SlowGenerator, small_pipeline, unreachable


def serve(pipeline, **limits):
    return LoopbackServer(create_app(ServeConfig(**limits), lambda: pipeline, load_in_background=False))


def test_query_returns_answer_citations_guard_findings_and_timings() -> None:
    guards = build_guards([PiiGuardConfig(entities=["EMAIL_ADDRESS"])])
    pipeline = small_pipeline(SlowGenerator(0.0), guards=guards)
    with serve(pipeline) as url:
        question = "What is the hotel cap? Mail me at a.b@example.com"
        r = httpx.post(f"{url}/v1/query", json={"question": question, "top_k": 3}, timeout=60)  # spaCy warm-up
    assert r.status_code == 200
    body = r.json()
    assert body["answer"] == "A fixed answer [1]." and body["citations"][0]["number"] == 1
    assert len(body["passages"]) == 3
    assert body["timings"]["total_ms"] > 0 and "guard_query_ms" in body["timings"]
    finding = body["guards"][0]["findings"][0]
    assert finding["entity_type"] == "EMAIL_ADDRESS" and "a.b@example.com" not in r.text


def test_chat_completions_plain_and_streaming() -> None:
    with serve(small_pipeline(SlowGenerator(0.0))) as url:
        messages = [{"role": "user", "content": "Hotel cap?"}]
        plain = httpx.post(f"{url}/v1/chat/completions", json={"messages": messages})
        assert plain.json()["choices"][0]["message"]["content"] == "A fixed answer [1]."
        with httpx.stream("POST", f"{url}/v1/chat/completions",
                          json={"messages": messages, "stream": True}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "A fixed answer [1]." and chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_health_readiness_and_metrics() -> None:
    gate = threading.Event()

    def slow_load():
        gate.wait(10)
        return small_pipeline(SlowGenerator(0.0))

    with LoopbackServer(create_app(ServeConfig(), slow_load)) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/readyz").status_code == 503
        assert httpx.post(f"{url}/v1/query", json={"question": "q"}).status_code == 503
        gate.set()
        deadline = time.monotonic() + 10
        while httpx.get(f"{url}/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert httpx.post(f"{url}/v1/query", json={"question": "hotel"}).status_code == 200
        metrics = httpx.get(f"{url}/metrics").text
    assert 'rag_harden_stage_seconds_count{stage="generate"} 1.0' in metrics
    assert 'rag_harden_requests_total{endpoint="/v1/query",status="200"} 1.0' in metrics
    assert "rag_harden_in_flight 0.0" in metrics


def test_bad_requests() -> None:
    with serve(small_pipeline(SlowGenerator(0.0)), max_body_bytes=2048) as url:
        malformed = httpx.post(f"{url}/v1/query", content=b"{bad json",
                               headers={"content-type": "application/json"})
        assert malformed.status_code == 422
        assert httpx.post(f"{url}/v1/query", json={"question": ""}).status_code == 422
        too_big = httpx.post(f"{url}/v1/query", json={"question": "x" * 5000})
        assert too_big.status_code == 413
        no_user = httpx.post(f"{url}/v1/chat/completions",
                             json={"messages": [{"role": "system", "content": "s"}]})
        assert no_user.status_code == 422


def test_unreachable_generator_gives_503_naming_it() -> None:
    generator = FailingGenerator(ok=0, exc=unreachable("http://127.0.0.1:9/v1/chat/completions"))
    with serve(small_pipeline(generator)) as url:
        r = httpx.post(f"{url}/v1/query", json={"question": "hotel"})
    assert r.status_code == 503 and "127.0.0.1:9" in r.json()["error"]["message"]
    assert r.headers["retry-after"] == "1"


def test_overload_is_shed_with_429_and_the_server_recovers() -> None:
    with serve(small_pipeline(SlowGenerator(0.3)), max_concurrency=1, max_queue=1) as url:
        results: list[httpx.Response] = []

        def call() -> None:
            results.append(httpx.post(f"{url}/v1/query", json={"question": "hotel"}, timeout=10))

        # 10x the capacity (1 running + 1 queued)
        threads = [threading.Thread(target=call) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results)
        assert codes.count(200) >= 2 and codes.count(429) >= 10, codes
        assert all(r.headers.get("retry-after") == "1" for r in results if r.status_code == 429)
        time.sleep(0.4)
        assert httpx.get(f"{url}/healthz").status_code == 200  # still up
        assert httpx.post(f"{url}/v1/query", json={"question": "hotel"}).status_code == 200  # recovered


def test_request_deadline_gives_504() -> None:
    with serve(small_pipeline(SlowGenerator(1.0)), request_timeout_s=0.2) as url:
        assert httpx.post(f"{url}/v1/query", json={"question": "hotel"}, timeout=5).status_code == 504
