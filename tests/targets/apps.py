"""Loopback HTTP apps standing in for someone else's RAG service (real FastAPI apps, served on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

_WORD = re.compile(r"[a-z0-9]+")

DOCS = [
    "Employees may work remotely up to three days per week. Remote work needs a manager's approval.",
    "The hotel cap is 180 EUR per night in Berlin. Elsewhere the cap is 150 EUR per night.",
    "Parental leave is sixteen weeks at full pay. It can be taken within two years of the birth.",
]


def _overlap(a: str, b: str) -> int:
    return len(set(_WORD.findall(a.lower())) & set(_WORD.findall(b.lower())))


def nested_rag_app() -> FastAPI:
    """A RAG service with its own shape: ``POST /api/ask`` with ``{"input": {"query"}, "options": {"k"}}``,
    answering ``{"data": {"result": {"text"}, "sources": [{"content"}]}, "meta": {"usage": {...}}}``: contexts
    without document ids, stage times in a Server-Timing header. It answers with the first sentence of the best
    overlapping document, and declines when nothing overlaps."""
    app = FastAPI()
    app.state.requests = []

    @app.post("/api/ask")
    async def ask(request: Request) -> JSONResponse:
        body = await request.json()
        app.state.requests.append({"body": body, "headers": dict(request.headers)})
        query, k = body["input"]["query"], body["options"]["k"] or 2
        ranked = sorted(DOCS, key=lambda d: -_overlap(query, d))[:k]
        best = ranked[0] if ranked and _overlap(query, ranked[0]) >= 2 else None
        text = best.split(". ")[0] + "." if best else "I don't know based on the provided documents."
        return JSONResponse(
            {"data": {"result": {"text": text}, "sources": [{"content": d} for d in ranked]},
             "meta": {"usage": {"input_tokens": 40, "output_tokens": len(text.split())}}},
            headers={"Server-Timing": 'retrieve;dur=1.5;desc="vector search", llm;dur=3.25, cache;desc=miss'})

    return app


def fault_app(*, flaky_failures: int = 2) -> FastAPI:
    """Endpoints that fail the ways real services do. ``/flaky`` answers 503 (Retry-After: 0) the first
    ``flaky_failures`` times, then a good answer; ``app.state.calls`` counts requests per path."""
    app = FastAPI()
    app.state.calls = {}

    def count(path: str) -> int:
        app.state.calls[path] = app.state.calls.get(path, 0) + 1
        return app.state.calls[path]

    good = {"answer": "The hotel cap is 180 EUR per night in Berlin [1].", "contexts": [DOCS[1]]}

    @app.post("/ok")
    async def ok(request: Request) -> JSONResponse:
        count("/ok")
        app.state.last_authorization = request.headers.get("authorization")
        return JSONResponse({**good, "echo": await request.json()})

    @app.post("/error")
    async def error() -> JSONResponse:
        count("/error")
        return JSONResponse({"detail": "internal error for jane.doe@example.com"}, status_code=500)

    @app.post("/busy")
    async def busy() -> JSONResponse:
        count("/busy")
        return JSONResponse({"detail": "slow down"}, status_code=429, headers={"Retry-After": "0"})

    @app.post("/flaky")
    async def flaky() -> JSONResponse:
        if count("/flaky") <= flaky_failures:
            return JSONResponse({"detail": "warming up"}, status_code=503, headers={"Retry-After": "0"})
        return JSONResponse(good)

    @app.post("/slow")
    async def slow() -> JSONResponse:
        count("/slow")
        await asyncio.sleep(2.0)
        return JSONResponse(good)

    @app.post("/not-json")
    async def not_json() -> PlainTextResponse:
        count("/not-json")
        return PlainTextResponse("<html>Gateway page. Contact ops at jane.doe@example.com or +1 415 555 0100"
                                 + " padding" * 80 + "</html>")

    @app.post("/wrong-shape")
    async def wrong_shape() -> JSONResponse:
        count("/wrong-shape")
        return JSONResponse({"result": {"txt": "Call Jane on +44 20 7946 0958 about card 4111 1111 1111 1111."}})

    return app



__all__ = ["DOCS", "fault_app", "nested_rag_app"]
