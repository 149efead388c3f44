"""Deterministic hand-written backends that satisfy the pipeline Protocols (the only fakes in the suite)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from harness.errors import BackendUnavailable
from harness.pipeline.protocols import EmbedKind, Generation, GenerationRequest

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Bag-of-words vectors through feature hashing: texts sharing words are similar; no model needed."""

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim
        self.calls = 0
        self.texts_embedded = 0

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self._dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)

    def fingerprint(self) -> dict[str, Any]:
        return {"backend": "hashing", "dim": self._dim}


class CountingEmbedder:
    """Wraps a real embedder and counts how many texts it embeds (to prove an index reload re-embeds nothing)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.texts_embedded = 0

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str], kind: EmbedKind) -> np.ndarray:
        self.texts_embedded += len(texts)
        return self.inner.embed(texts, kind)

    def fingerprint(self) -> dict[str, Any]:
        return self.inner.fingerprint()


class CitingGenerator:
    """Answers with the first sentence of passage [1], cited; declines with no passages."""

    def generate(self, request: GenerationRequest) -> Generation:
        if not request.passages:
            return Generation(text="I don't know based on the provided documents.", finish_reason="stop")
        first = request.passages[0].text.split(". ")[0]
        return Generation(text=f"{first} [1]", completion_tokens=len(first.split()), finish_reason="stop")

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake-citing"}


class FailingGenerator:
    """Succeeds ``ok`` times, then raises ``exc`` on every call."""

    def __init__(self, ok: int, exc: BaseException) -> None:
        self.ok = ok
        self.exc = exc
        self.calls = 0

    def generate(self, request: GenerationRequest) -> Generation:
        self.calls += 1
        if self.calls > self.ok:
            raise self.exc
        return Generation(text="An answer [1]", finish_reason="stop")

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake-failing"}


class OverlapGroundedness:
    """A deterministic groundedness scorer (the ``ScoresGroundedness`` seam): faithfulness is the share of the
    answer's words found in the passages. An answer containing ``bad`` raises ValueError. ``calls`` records
    how many answers each call scored."""

    def __init__(self, bad: str | None = None) -> None:
        self.bad = bad
        self.calls: list[int] = []

    def score(self, answer: str, passages: Sequence[str], question: str = "") -> Any:
        self.calls.append(1)
        return self._one(answer, passages)

    def score_many(self, items: Sequence[tuple[str, Sequence[str], str]], batch_size: int = 64) -> list[Any]:
        self.calls.append(len(items))
        return [self._one(answer, passages) for answer, passages, _ in items]

    def _one(self, answer: str, passages: Sequence[str]) -> Any:
        from harness.eval.groundedness import Groundedness

        if self.bad is not None and self.bad in answer:
            raise ValueError("unscorable answer")
        words, context = answer.lower().split(), " ".join(passages).lower()
        share = sum(w in context for w in words) / max(len(words), 1)
        return Groundedness(faithfulness=round(share, 6), claims=[], unsupported=[])


def unreachable(url: str) -> BackendUnavailable:
    return BackendUnavailable(f"cannot reach generator endpoint {url}: connection refused")


def chat_completions_app(respond: Any, status_code: int = 200) -> Any:
    """A minimal OpenAI-compatible ``POST /v1/chat/completions`` (FastAPI) whose reply text is
    ``respond(messages)``; with ``status_code`` != 200 it answers that error instead."""
    app = FastAPI()
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        app.state.requests.append({"body": body, "authorization": request.headers.get("authorization")})
        if status_code != 200:
            return JSONResponse({"error": {"message": "model overloaded"}}, status_code=status_code)
        text = respond(body["messages"])
        return JSONResponse({
            "id": "cmpl-test", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": len(text.split()), "total_tokens": 11 + len(text.split())},
        })

    return app


from harness.serve import BackgroundServer as LoopbackServer  # noqa: E402  (one implementation, shared)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a rule-based LLM judge behind a real OpenAI-compatible endpoint ------------------------------------------------

_JUDGE_WORD = re.compile(r"[a-z0-9]{3,}")


def _supported(sentence: str, context: str) -> bool:
    words = set(_JUDGE_WORD.findall(sentence.lower()))
    return bool(words) and len(words & set(_JUDGE_WORD.findall(context.lower()))) / len(words) >= 0.8


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text or "") if s.strip()]


def _instance(schema: dict, defs: dict, name: str, inputs: dict) -> Any:
    """A valid instance of ``schema`` whose values follow simple rules on the prompt's inputs: statements are the
    sentences of the answer, a verdict is 1 when the statement's words are in the context. Deterministic."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].split("/")[-1]]
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    kind = schema.get("type")
    context = inputs.get("context") or " ".join(inputs.get("retrieved_contexts", []) or [])
    text = inputs.get("answer") or inputs.get("response") or inputs.get("reference") or inputs.get("text") or ""
    if kind == "object":
        return {key: _instance(sub, defs, key, inputs) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        items = schema.get("items", {})
        sources = inputs.get("statements") or _sentences(text)
        if items.get("type") == "string" or (items.get("$ref") is None and "properties" not in items):
            return list(sources)
        return [_instance(items, defs, name, {**inputs, "_statement": s}) for s in sources]
    if kind == "integer":
        if name in ("verdict", "attributed"):
            return int(_supported(inputs.get("_statement") or text, context))
        return 0
    if kind == "number":
        return 0.0
    if kind == "boolean":
        return False
    if name in ("statement", "claim"):
        return inputs.get("_statement", "")
    if name == "question":
        return inputs.get("response", "")
    return "rule-based judgement"


def judge_app() -> Any:
    """An OpenAI-compatible chat endpoint that answers ragas's structured prompts (JSON schema in the system
    message, inputs after ``input:``) with rule-based, deterministic JSON. ``app.state.calls`` counts requests."""
    app = FastAPI()
    app.state.calls = 0

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> JSONResponse:
        app.state.calls += 1
        body = await request.json()
        system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
        user = body["messages"][-1]["content"]
        schema = json.loads(system[system.index("{"): system.rindex("}") + 1])
        raw = user[user.rindex("input: ") + len("input: "): user.rindex("Output:")].strip()
        inputs = json.loads(raw) if raw.startswith("{") else {}
        content = json.dumps(_instance(schema, schema.get("$defs", {}), "", inputs))
        return JSONResponse({
            "id": "judge", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        })

    return app


class SlowGenerator:
    """Answers after ``delay_s`` seconds (a generator of fixed latency), citing passage [1]."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def generate(self, request: GenerationRequest) -> Generation:
        import time

        time.sleep(self.delay_s)
        return Generation(text="A fixed answer [1].", completion_tokens=4, prompt_tokens=20, finish_reason="stop")

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake-slow", "delay_s": self.delay_s}


def small_pipeline(generator: Any, guards: Any = None) -> Any:
    """A real RagPipeline (faiss flat index) over a few demo documents with the hashing embedder."""
    from pathlib import Path

    from harness.config import ChunkingConfig, PipelineConfig
    from harness.pipeline.documents import chunk_documents, load_documents
    from harness.pipeline.retrievers.faiss_flat import FlatIPIndex
    from harness.pipeline.rag import RagPipeline

    corpus = Path(__file__).resolve().parent.parent / "golden_sets" / "demo_corpus" / "policies"
    chunks = chunk_documents(load_documents([corpus]), ChunkingConfig())
    embedder = HashingEmbedder()
    index = FlatIPIndex.from_vectors(embedder.embed([c.text for c in chunks], kind="passage"))
    return RagPipeline(embedder=embedder, index=index, chunks=chunks, generator=generator, config=PipelineConfig(),
                       guards=guards)


class TokenizingGenerator:
    """Encodes the question as a tokenizer would before answering; like many third-party libraries, its error
    quotes the input (here: text that is not valid Unicode). Counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, request: GenerationRequest) -> Generation:
        self.calls += 1
        try:
            request.question.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"cannot tokenize {request.question!r}") from None
        return Generation(text="A fixed answer [1].", completion_tokens=4, prompt_tokens=20, finish_reason="stop")

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake-tokenizing"}


class StreamingSlowGenerator:
    """Streams ``text`` in word pieces, ``delay_s`` apart (a generator that produces tokens over time); records
    whether the stream was closed before its end."""

    def __init__(self, text: str = "The nightly hotel cap in Berlin is 180 EUR per night, see the policy [1].",
                 delay_s: float = 0.05) -> None:
        self.text = text
        self.delay_s = delay_s
        self.closed_early = False

    def _pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    def generate(self, request: GenerationRequest) -> Generation:
        return Generation(text=self.text, completion_tokens=len(self._pieces()), finish_reason="stop")

    def stream(self, request: GenerationRequest) -> Any:
        import time

        pieces = self._pieces()
        sent = 0
        try:
            for piece in pieces:
                time.sleep(self.delay_s)
                yield piece
                sent += 1
        finally:
            self.closed_early = sent < len(pieces)
        return self.generate(request)

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake-streaming-slow", "delay_s": self.delay_s}


def streaming_chat_app(text: str, delay_s: float = 0.0) -> Any:
    """An OpenAI-compatible ``POST /v1/chat/completions`` answering ``text`` after ``delay_s`` (asyncio sleep, so
    concurrent requests overlap), as one body or, with ``stream: true``, one SSE chunk per word ``delay_s``
    apart and a usage chunk. ``app.state.peak`` is the most requests in flight at once."""
    import asyncio

    from fastapi.responses import StreamingResponse

    app = FastAPI()
    app.state.inflight = 0
    app.state.peak = 0
    app.state.requests = []

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        app.state.requests.append(body)
        words = text.split(" ")
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        if body.get("stream"):
            async def events() -> Any:
                for piece in pieces:
                    await asyncio.sleep(delay_s)
                    chunk = {"model": body["model"], "choices": [{"index": 0, "delta": {"content": piece}}]}
                    yield f"data: {json.dumps(chunk)}\n\n".encode()
                end = {"model": body["model"], "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                yield f"data: {json.dumps(end)}\n\n".encode()
                usage = {"prompt_tokens": 9, "completion_tokens": len(pieces), "total_tokens": 9 + len(pieces)}
                yield f"data: {json.dumps({'model': body['model'], 'choices': [], 'usage': usage})}\n\n".encode()
                yield b"data: [DONE]\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        app.state.inflight += 1
        app.state.peak = max(app.state.peak, app.state.inflight)
        try:
            await asyncio.sleep(delay_s)
        finally:
            app.state.inflight -= 1
        last = body["messages"][-1]["content"]
        return JSONResponse({
            "id": "cmpl-test", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"{text} ({len(last)})"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": len(pieces), "total_tokens": 9 + len(pieces)},
        })

    return app
