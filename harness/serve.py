"""``rag-harden serve``: the guarded reference pipeline over HTTP (FastAPI on uvicorn).

Endpoints: ``POST /v1/query``, ``POST /v1/chat/completions`` (OpenAI-compatible, with server-sent events when
``stream`` is true), ``GET /healthz``, ``GET /readyz`` (ready once the models are loaded), ``GET /metrics``
(Prometheus). Admission control: at most ``max_concurrency`` requests run the pipeline at once and at most
``max_queue`` wait; beyond that the answer is 429 with ``Retry-After``, so memory stays bounded under overload.
Each request has a deadline (``request_timeout_s``, queueing included: 504 after it) and a body-size limit (413).
An unreachable generator endpoint gives 503 with the message naming it; malformed JSON gives 422.

Streaming note: the pipeline generates the whole answer before streaming it in chunks, so time to first token
equals the generation time; token-by-token streaming from the backends is not implemented yet.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from harness.config import ServeConfig
from harness.errors import BackendUnavailable, HardenError

STAGES = ("embed", "search", "generate", "total", "guard_query", "guard_context", "guard_answer")


class QueryRequest(BaseModel):
    question: str = Field(min_length=1, max_length=20_000)
    top_k: int | None = Field(None, ge=1, le=100)


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str = "rag-harden"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        buckets = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
        self.stage = Histogram("rag_harden_stage_seconds", "Pipeline stage latency", ["stage"], buckets=buckets,
                               registry=self.registry)
        self.requests = Counter("rag_harden_requests_total", "Requests by endpoint and status", ["endpoint", "status"],
                                registry=self.registry)
        self.findings = Counter("rag_harden_guard_findings_total", "Guard findings", ["guard", "stage", "entity"],
                                registry=self.registry)
        self.errors = Counter("rag_harden_errors_total", "Errors by kind", ["kind"], registry=self.registry)
        self.in_flight = Gauge("rag_harden_in_flight", "Requests running the pipeline", registry=self.registry)
        self.queued = Gauge("rag_harden_queued", "Requests waiting for a pipeline slot", registry=self.registry)


def create_app(config: ServeConfig, load_pipeline: Callable[[], Any], *, load_in_background: bool = True) -> FastAPI:
    """The ASGI app. ``load_pipeline`` builds the pipeline (models, index); until it has, ``/readyz`` says 503."""
    app = FastAPI(title="rag-harden", docs_url=None, redoc_url=None)
    metrics = _Metrics()
    executor = ThreadPoolExecutor(max_workers=config.max_concurrency, thread_name_prefix="rag-harden")
    state: dict[str, Any] = {"pipeline": None, "error": None, "waiting": 0, "running": 0}
    slots = asyncio.Semaphore(config.max_concurrency)

    def load() -> None:
        try:
            state["pipeline"] = load_pipeline()
        except Exception as exc:  # reported by /readyz, never swallowed silently
            state["error"] = f"{type(exc).__name__}: {exc}"

    if load_in_background:
        threading.Thread(target=load, daemon=True).start()
    else:
        load()

    def error(status: int, message: str, endpoint: str, **headers: str) -> JSONResponse:
        metrics.requests.labels(endpoint, str(status)).inc()
        return JSONResponse({"error": {"message": message, "status": status}}, status_code=status, headers=headers)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > config.max_body_bytes:
            return error(413, f"request body over {config.max_body_bytes} bytes", request.url.path)
        return await call_next(request)

    async def answer(question: str, top_k: int | None, endpoint: str) -> Any | JSONResponse:
        pipeline = state["pipeline"]
        if pipeline is None:
            return error(503, state["error"] or "models are still loading", endpoint,
                         **{"Retry-After": str(config.retry_after_s)})
        if state["waiting"] + state["running"] >= config.max_concurrency + config.max_queue:
            metrics.errors.labels("overload").inc()
            return error(429, "server is at capacity; retry later", endpoint,
                         **{"Retry-After": str(config.retry_after_s)})
        deadline = time.monotonic() + config.request_timeout_s
        state["waiting"] += 1
        metrics.queued.inc()
        try:
            await asyncio.wait_for(slots.acquire(), timeout=config.request_timeout_s)
        except asyncio.TimeoutError:
            metrics.errors.labels("timeout").inc()
            return error(504, f"no pipeline slot within {config.request_timeout_s:g} s", endpoint)
        finally:
            state["waiting"] -= 1
            metrics.queued.dec()
        state["running"] += 1
        metrics.in_flight.inc()
        try:
            future = asyncio.get_running_loop().run_in_executor(executor, pipeline.answer, question, top_k)
            result = await asyncio.wait_for(asyncio.shield(future), timeout=max(deadline - time.monotonic(), 0.001))
        except asyncio.TimeoutError:
            metrics.errors.labels("timeout").inc()
            return error(504, f"no answer within {config.request_timeout_s:g} s", endpoint)
        except BackendUnavailable as exc:
            metrics.errors.labels("backend_unavailable").inc()
            return error(503, str(exc), endpoint, **{"Retry-After": str(config.retry_after_s)})
        except HardenError as exc:
            metrics.errors.labels("pipeline").inc()
            return error(500, f"{type(exc).__name__}: {exc}", endpoint)
        finally:
            state["running"] -= 1
            metrics.in_flight.dec()
            slots.release()
        for stage in STAGES:
            metrics.stage.labels(stage).observe(getattr(result.timings, f"{stage}_ms") / 1e3)
        for r in result.guard_results:
            for f in r.findings:
                metrics.findings.labels(r.guard, r.stage, f.entity_type).inc()
        metrics.requests.labels(endpoint, "200").inc()
        return result

    @app.post("/v1/query")
    async def query(body: QueryRequest) -> Any:
        result = await answer(body.question, body.top_k, "/v1/query")
        if isinstance(result, JSONResponse):
            return result
        return {"answer": result.answer, "citations": [c.model_dump() for c in result.citations],
                "passages": [{"number": p.number, "doc_id": p.doc_id, "chunk_id": p.chunk_id, "score": p.score}
                             for p in result.passages],
                "guards": [r.model_dump() for r in result.guard_results], "blocked": result.blocked,
                "timings": result.timings.model_dump()}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest) -> Any:
        question = next((m.content for m in reversed(body.messages) if m.role == "user"), None)
        if not question:
            return error(422, "messages need at least one user message", "/v1/chat/completions")
        result = await answer(question, None, "/v1/chat/completions")
        if isinstance(result, JSONResponse):
            return result
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:16]}", int(time.time())
        if not body.stream:
            return {"id": ident, "object": "chat.completion", "created": created, "model": body.model,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": result.answer},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": result.generation.prompt_tokens or 0,
                              "completion_tokens": result.generation.completion_tokens or 0,
                              "total_tokens": (result.generation.prompt_tokens or 0)
                              + (result.generation.completion_tokens or 0)}}

        async def events() -> AsyncIterator[str]:
            def chunk(delta: dict[str, str], finish: str | None = None) -> str:
                return "data: " + json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created,
                                              "model": body.model, "choices": [{"index": 0, "delta": delta,
                                                                                "finish_reason": finish}]}) + "\n\n"
            yield chunk({"role": "assistant"})
            words = result.answer.split(" ")
            for i, word in enumerate(words):
                yield chunk({"content": word if i == 0 else " " + word})
            yield chunk({}, "stop")
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        if state["pipeline"] is not None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "error" if state["error"] else "loading", "detail": state["error"]},
                            status_code=503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.state.metrics = metrics
    app.state.serve_state = state
    return app


class BackgroundServer:
    """Run an ASGI app under uvicorn on 127.0.0.1 in a thread (a context manager returning the base URL); for
    tests and benchmarks that need a real server in-process."""

    def __init__(self, app: Any, port: int = 0) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="off"))
        self.thread: threading.Thread | None = None

    def __enter__(self) -> str:
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)


__all__ = ["BackgroundServer", "ChatRequest", "QueryRequest", "create_app"]
