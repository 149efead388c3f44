"""ragas's LLM-judge metrics through ragas's own classes, against a configured OpenAI-compatible judge.

Judge calls go through :class:`CachingTransport`: each request body (model, messages, temperature, max tokens,
response format: everything that determines the answer) is hashed, and the response is stored on disk under
``<cache>/judge/<hash>.json``, so a re-run costs nothing and gives the same scores. ``cache: false`` in the
scenario or ``--no-cache`` bypasses it. Telemetry stays off (:mod:`harness._env`), and no client is ever built
without the scenario's URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx

from harness.config import JudgeConfig
from harness.errors import BackendUnavailable, ConfigError
from harness.paths import cache_dir
from harness.pipeline.protocols import Embedder


class CachingTransport(httpx.AsyncBaseTransport):
    """Serve repeated POSTs from disk; forward everything else. Only 200 responses are stored."""

    def __init__(self, folder: Path, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.folder = folder
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.hits = 0
        self.misses = 0

    def key(self, request: httpx.Request) -> str:
        body = json.loads(request.content or b"{}")
        canonical = json.dumps({"path": request.url.path, "body": body}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return await self.inner.handle_async_request(request)
        path = self.folder / f"{self.key(request)}.json"
        if path.is_file():
            self.hits += 1
            return httpx.Response(
                200, content=path.read_bytes(), headers={"content-type": "application/json"}, request=request
            )
        response = await self.inner.handle_async_request(request)
        if response.status_code == 200:
            content = await response.aread()
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(content)
            tmp.replace(path)
            self.misses += 1
            return httpx.Response(200, content=content, headers=response.headers, request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class JudgeScorer:
    def __init__(self, config: JudgeConfig, embedder: Embedder, *, use_cache: bool = True) -> None:
        from openai import AsyncOpenAI
        from ragas.llms import llm_factory
        from ragas.metrics import collections as m

        from harness.eval.answers import ragas_embeddings

        self.config = config
        key = "not-needed"
        if config.api_key_env:
            key = os.environ.get(config.api_key_env) or ""
            if not key:
                raise ConfigError(f"judge.api_key_env: environment variable {config.api_key_env} is not set")
        self.transport = CachingTransport(cache_dir() / "judge") if (use_cache and config.cache) else None
        self._loop = asyncio.new_event_loop()
        http = (
            httpx.AsyncClient(transport=self.transport, timeout=config.timeout_s)
            if self.transport
            else httpx.AsyncClient(timeout=config.timeout_s)
        )
        client = AsyncOpenAI(base_url=config.base_url, api_key=key, http_client=http, max_retries=0)
        llm = llm_factory(
            config.model, provider="openai", client=client, temperature=0.0, max_tokens=config.max_tokens
        )
        builders = {
            "faithfulness": lambda: m.Faithfulness(llm=llm),
            "factual_correctness": lambda: m.FactualCorrectness(llm=llm),
            "response_relevancy": lambda: m.AnswerRelevancy(llm=llm, embeddings=ragas_embeddings(embedder)),
            "context_precision": lambda: m.ContextPrecision(llm=llm),
            "context_recall": lambda: m.ContextRecall(llm=llm),
        }
        self.metrics = {name: builders[name]() for name in config.metrics}

    async def _score(
        self, question: str, answer: str, contexts: list[str], reference: str | None
    ) -> dict[str, float]:
        args: dict[str, dict[str, Any]] = {
            "faithfulness": {"user_input": question, "response": answer, "retrieved_contexts": contexts},
            "factual_correctness": {"response": answer, "reference": reference},
            "response_relevancy": {"user_input": question, "response": answer},
            "context_precision": {
                "user_input": question,
                "reference": reference,
                "retrieved_contexts": contexts,
            },
            "context_recall": {
                "user_input": question,
                "retrieved_contexts": contexts,
                "reference": reference,
            },
        }
        scores: dict[str, float] = {}
        for name, metric in self.metrics.items():
            kwargs = args[name]
            if any(v is None for v in kwargs.values()) or (
                name != "response_relevancy" and not contexts and "retrieved_contexts" in kwargs
            ):
                continue  # e.g. no reference for an unanswerable item
            try:
                scores[name] = float((await metric.ascore(**kwargs)).value)
            except Exception as exc:  # ragas wraps transport errors in several layers
                raise _as_backend_error(exc, self.config.base_url) from exc
        return scores

    def score(
        self, question: str, answer: str, contexts: list[str], reference: str | None
    ) -> dict[str, float]:
        return self._loop.run_until_complete(self._score(question, answer, contexts, reference))


def _as_backend_error(exc: BaseException, url: str) -> Exception:
    import openai

    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    if any(isinstance(e, (openai.APIConnectionError, httpx.TransportError)) for e in chain):
        return BackendUnavailable(f"cannot reach judge endpoint {url}: {exc}")
    if any(isinstance(e, openai.APIStatusError) for e in chain):
        return BackendUnavailable(f"judge endpoint {url} answered an error: {exc}")
    return BackendUnavailable(
        f"judge at {url} gave an unusable answer: {type(exc).__name__}: {str(exc)[:300]}"
    )


__all__ = ["CachingTransport", "JudgeScorer"]
