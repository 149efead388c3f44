"""``create_app``: the guarded pipeline as a FastAPI app.

Endpoints: ``POST /v1/query``; ``POST /v1/chat/completions`` (OpenAI-compatible, server-sent events when
``stream`` is true, a final usage chunk with ``stream_options.include_usage``); ``GET /v1/models``;
``GET /healthz`` and its alias ``/health``; ``GET /readyz`` (ready once the models are loaded);
``GET /metrics`` (Prometheus). Limits and their status codes are in :mod:`harness.serving.admission`
(429, 504) and :mod:`harness.serving.middleware` (401, 408, 413); the error shape is in
:mod:`harness.serving.errors`.

Streaming: with ``stream: true`` the chat route runs the pipeline's ``answer_stream`` on a pipeline thread
(:mod:`harness.serving.streamed`) and sends each text delta as soon as the answer guard has released it: the
guard holds back a sliding window of the newest characters until it has checked them with enough lookahead
that no personal value can leave half-seen (:mod:`harness.pipeline.streaming`; a longer window is safer and
costs time to first token). A failure before the first delta gets its HTTP status; after it, the stream ends
with ``finish_reason: "error"``.

``/v1/query`` and ``/v1/chat/completions`` are declared to FastAPI (their OpenAPI schema) but served by the
outer middleware (:mod:`harness.serving.json_routes`: the same parsing and errors, a fraction of the CPU);
``create_app(direct_routes=False)`` sends them through FastAPI's router instead, to compare the two.

The same app is the guard proxy when the pipeline is a :class:`harness.serving.proxy.GuardProxy` (an external
target with the guards around it); its upstream's failures are 502 ``upstream_error``, an unreachable upstream
503 naming the URL.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response, StreamingResponse

from harness.config import ServeConfig
from harness.errors import BackendUnavailable, ConfigError, HardenError
from harness.pipeline.protocols import AnswersPipeline
from harness.serving import server
from harness.serving.admission import Admission, Deadline, DeadlineExceeded, Overloaded
from harness.serving.errors import ApiError, install_error_handlers, known_field_names
from harness.serving.json_routes import JsonRoute
from harness.serving.metrics import ServerMetrics
from harness.serving.middleware import HardeningMiddleware, random_id
from harness.serving.models import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    ChunkChoice,
    Delta,
    ErrorResponse,
    Health,
    ModelCard,
    ModelList,
    PassageRef,
    QueryRequest,
    QueryResponse,
    Readiness,
    Usage,
)
from harness.serving.sse import DONE, MEDIA_TYPE, format_event
from harness.serving.streamed import admitted_stream
from harness.targets.base import TargetError

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 408, 413, 422, 429, 500, 502, 503, 504)
}


class _HardenedApp(FastAPI):
    """FastAPI with :class:`HardeningMiddleware` outside its whole stack (outside Starlette's error
    middleware, which re-raises every exception to the server after replying)."""

    hardening: dict[str, Any]  # set by create_app before the first request builds the stack

    def build_middleware_stack(self) -> Any:
        paths = frozenset(str(getattr(r, "path", "")) for r in self.routes)
        return HardeningMiddleware(super().build_middleware_stack(), known_paths=paths, **self.hardening)


def read_api_key(config: ServeConfig) -> str | None:
    """The bearer token from ``config.api_key_env``; a named but unset or empty variable is a ConfigError."""
    if config.api_key_env is None:
        return None
    token = os.environ.get(config.api_key_env, "").strip()
    if not token:
        raise ConfigError(f"serve.api_key_env names {config.api_key_env}, which is not set or empty")
    return token


async def chat_events(
    tokens: Iterable[str] | AsyncIterable[str],
    *,
    ident: str,
    created: int,
    model: str,
    finish: Callable[[], tuple[str, Usage]],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """OpenAI chat-completion chunks as server-sent events: the role, one chunk per token (sent as the token
    arrives when ``tokens`` is async), the finish reason, the usage chunk when asked for, ``[DONE]``.
    ``finish()`` is called once the tokens are exhausted."""

    def event(choices: list[ChunkChoice], usage: Usage | None = None) -> bytes:
        chunk = ChatCompletionChunk(id=ident, created=created, model=model, choices=choices, usage=usage)
        return format_event(chunk.model_dump_json(exclude_none=True))

    yield event([ChunkChoice(delta=Delta(role="assistant"))])
    if isinstance(tokens, AsyncIterable):
        async for token in tokens:
            yield event([ChunkChoice(delta=Delta(content=token))])
    else:
        for token in tokens:
            yield event([ChunkChoice(delta=Delta(content=token))])
    reason, usage = finish()
    yield event([ChunkChoice(delta=Delta(), finish_reason=reason)])
    if include_usage:
        yield event([], usage)
    yield format_event(DONE)


def create_app(
    config: ServeConfig,
    load_pipeline: Callable[[], AnswersPipeline],
    *,
    load_in_background: bool = True,
    freeze_heap: bool = False,
    direct_routes: bool = True,
) -> FastAPI:
    """The ASGI app. ``load_pipeline`` builds the pipeline (models, index); until it has, ``/readyz`` says
    503. Streamed chat requests use its ``answer_stream`` (the protocol's default answers in one delta).
    ``freeze_heap`` (the server process's own app, not one of many in a test process): once the pipeline has
    loaded, everything alive is moved out of the garbage collector's reach (:func:`server.freeze_heap`).
    ``direct_routes``: the POST routes are answered by the outer middleware (False: by FastAPI's router, as
    every other route; the same replies, at several times the CPU)."""
    token = read_api_key(config)
    app = _HardenedApp(title="rag-harden", docs_url=None, redoc_url=None)
    admission = Admission(config.max_concurrency, config.max_queue, config.retry_after_s)
    metrics = ServerMetrics(running=lambda: admission.running, waiting=lambda: admission.waiting)
    app.hardening = {
        "max_body_bytes": config.max_body_bytes,
        "body_timeout_s": config.body_timeout_s,
        "token": token,
        "metrics": metrics,
    }
    install_error_handlers(app, [QueryRequest, ChatRequest])
    state: dict[str, Any] = {"pipeline": None, "error": None}
    retry = {"Retry-After": str(config.retry_after_s)}
    started = int(time.time())

    def load() -> None:
        try:
            pipeline = load_pipeline()
        except Exception as exc:  # reported by /readyz, never swallowed silently
            state["error"] = f"{type(exc).__name__}: {exc}"
            return
        if freeze_heap:
            server.freeze_heap()  # before /readyz says ready: it starts with a full collection
        state["pipeline"] = pipeline

    if load_in_background:
        threading.Thread(target=load, daemon=True).start()
    else:
        load()

    def ready_pipeline() -> Any:
        pipeline = state["pipeline"]
        if pipeline is None:
            raise ApiError(
                503,
                "not_ready",
                "the pipeline failed to load" if state["error"] else "models are still loading",
                retry,
            )
        return pipeline

    def api_error(exc: Exception) -> ApiError:
        """The HTTP error for a failure of admission or of the pipeline (counted in the metrics)."""
        if isinstance(exc, Overloaded):
            metrics.errors.labels("overload").inc()
            return ApiError(429, "overloaded", "server is at capacity; retry later", retry)
        if isinstance(exc, DeadlineExceeded):
            metrics.errors.labels("timeout").inc()
            return ApiError(504, "deadline_exceeded", f"no answer within {exc.timeout_s:g} s")
        if isinstance(
            exc, BackendUnavailable
        ):  # its message names the endpoint (configuration), not the input
            metrics.errors.labels("backend_unavailable").inc()
            return ApiError(503, "backend_unavailable", str(exc), retry)
        if isinstance(exc, TargetError):  # the guard proxy's upstream failed; its body is not echoed
            metrics.errors.labels("upstream").inc()
            return ApiError(502, "upstream_error", "the upstream failed (HTTP error, timeout or bad reply)")
        metrics.errors.labels("pipeline").inc()
        return ApiError(500, "pipeline_error", f"the pipeline failed ({type(exc).__name__})")

    async def answer(question: str, top_k: int | None) -> Any:
        pipeline = ready_pipeline()
        try:
            deadline = Deadline(config.request_timeout_s)
            result = await admission.run(pipeline.answer, question, top_k, deadline=deadline)
        except (Overloaded, DeadlineExceeded, HardenError) as exc:
            raise api_error(exc) from None
        return record(result)

    def record(result: Any) -> Any:
        metrics.observe_stages(result.timings)
        for r in result.guard_results:
            for f in r.findings:
                metrics.findings.labels(r.guard, r.stage, f.entity_type).inc()
        return result

    async def query_reply(body: QueryRequest) -> Response:
        result = await answer(body.question, body.top_k)
        passages = [
            PassageRef(
                number=p.number,
                doc_id=p.doc_id,
                chunk_id=p.chunk_id,
                score=p.score,
                text=p.text if body.include_text else None,
            )
            for p in result.passages
        ]
        reply = QueryResponse(
            answer=result.answer,
            citations=result.citations,
            passages=passages,
            guards=result.guard_results,
            blocked=result.blocked,
            timings=result.timings,
        )
        return Response(reply.model_dump_json(), media_type="application/json")

    streamed = {"content": {MEDIA_TYPE: {}}, "description": "a completion, or its chunks as SSE"}

    async def stream_chat(question: str, include_usage: bool) -> StreamingResponse:
        """Deltas as the guarded pipeline releases them; waits for the first one before answering 200."""
        pipeline = ready_pipeline()
        items = admitted_stream(
            admission, lambda: pipeline.answer_stream(question), Deadline(config.request_timeout_s)
        )
        try:
            first = await items.__anext__()
        except StopAsyncIteration:
            first = None
        except (Overloaded, DeadlineExceeded, HardenError) as exc:
            raise api_error(exc) from None
        final: dict[str, Any] = {}

        async def tokens() -> AsyncIterator[str]:
            item = first
            try:
                while item is not None:
                    if isinstance(item, str):
                        yield item
                    else:
                        final["answer"] = record(item)
                    item = await items.__anext__()
            except StopAsyncIteration:
                pass
            except (Overloaded, DeadlineExceeded, HardenError) as exc:  # headers are sent: end the stream
                api_error(exc)
            finally:
                await items.aclose()

        def finish() -> tuple[str, Usage]:
            result = final.get("answer")
            if result is None:
                return "error", Usage.of(None, None)
            return (
                result.generation.finish_reason or "stop",
                Usage.of(result.generation.prompt_tokens, result.generation.completion_tokens),
            )

        ident, created = f"chatcmpl-{random_id()}", int(time.time())
        events = chat_events(
            tokens(),
            ident=ident,
            created=created,
            model=config.model_name,
            finish=finish,
            include_usage=include_usage,
        )
        return StreamingResponse(events, media_type=MEDIA_TYPE)

    async def chat_reply(body: ChatRequest) -> Response:
        question = body.question()
        if not question.strip():
            raise ApiError(422, "invalid_request", "messages need a user message with text")
        if body.stream:
            include = body.stream_options is not None and body.stream_options.include_usage
            return await stream_chat(question, include)
        result = await answer(question, None)
        usage = Usage.of(result.generation.prompt_tokens, result.generation.completion_tokens)
        reason = result.generation.finish_reason or "stop"
        reply = ChatCompletion(
            id=f"chatcmpl-{random_id()}",
            created=int(time.time()),
            model=config.model_name,
            usage=usage,
            choices=[ChatChoice(message=AssistantMessage(content=result.answer), finish_reason=reason)],
        )
        return Response(reply.model_dump_json(), media_type="application/json")

    @app.post("/v1/query", response_model=QueryResponse, responses=_ERRORS)
    async def query(body: QueryRequest) -> Response:
        return await query_reply(body)

    @app.post("/v1/chat/completions", response_model=ChatCompletion, responses={**_ERRORS, 200: streamed})
    async def chat(body: ChatRequest) -> Response:
        return await chat_reply(body)

    if direct_routes:
        allowed = known_field_names([QueryRequest, ChatRequest])
        app.hardening["routes"] = {
            "/v1/query": JsonRoute(QueryRequest, query_reply, allowed),
            "/v1/chat/completions": JsonRoute(ChatRequest, chat_reply, allowed),
        }

    @app.get("/v1/models", response_model=ModelList, responses=_ERRORS)
    async def models() -> ModelList:
        return ModelList(data=[ModelCard(id=config.model_name, created=started)])

    @app.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        return Health()

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health()

    @app.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
    async def readyz() -> Any:
        if state["pipeline"] is not None:
            return Readiness(status="ready")
        body = Readiness(status="error" if state["error"] else "loading", detail=state["error"])
        return Response(body.model_dump_json(), status_code=503, media_type="application/json")

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.state.serve_config = config
    app.state.metrics = metrics
    app.state.admission = admission
    app.state.serve_state = state
    app.state.on_slow_client = metrics.slow_client
    return app


__all__ = ["chat_events", "create_app", "read_api_key"]
