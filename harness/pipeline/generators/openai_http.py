"""Any OpenAI-compatible chat endpoint: ``vllm serve``, a gateway, or a hosted API.

The API key is read, when the scenario names one, from the environment variable ``api_key_env``, when
the generator is built; it never appears in YAML, reports or logs. Transport errors become
:class:`BackendUnavailable` naming the URL.

Batches (:meth:`OpenAIChatGenerator.generate_many`) are sent as concurrent requests, at most
``max_concurrency`` at a time (a thread pool over one connection pool); :meth:`~OpenAIChatGenerator.stream`
asks the endpoint for ``stream: true`` and yields each content delta as its server-sent event arrives.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from harness.config import OpenAIGeneratorConfig
from harness.errors import BackendUnavailable, ConfigError
from harness.pipeline.generators import GENERATORS
from harness.pipeline.protocols import BaseGenerator, Generation, GenerationRequest, TokenStream
from harness.registry import BuildContext


class OpenAIChatGenerator(BaseGenerator):
    def __init__(self, config: OpenAIGeneratorConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        headers = {}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ConfigError(
                    f"pipeline.generator.api_key_env: environment variable {config.api_key_env} is not set"
                )
            headers["Authorization"] = f"Bearer {key}"
        self.url = f"{config.base_url}/chat/completions"
        n = config.max_concurrency
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
        self._client = httpx.Client(
            timeout=config.timeout_s, headers=headers, transport=transport, limits=limits
        )

    def _payload(self, request: GenerationRequest, stream: bool = False) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.config.model,
            "messages": request.messages,
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
        }
        if stream:
            payload |= {"stream": True, "stream_options": {"include_usage": True}}
        return payload

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException as exc:
            raise BackendUnavailable(
                f"generator endpoint {self.url} timed out after {self.config.timeout_s:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"cannot reach generator endpoint {self.url}: {exc}") from exc

    def generate_many(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Concurrent requests, at most ``max_concurrency`` in flight; results in request order. The first
        failure is raised (after the requests already sent have finished)."""
        if len(requests) <= 1 or self.config.max_concurrency == 1:
            return [self.generate(r) for r in requests]
        with ThreadPoolExecutor(
            max_workers=min(self.config.max_concurrency, len(requests)),
            thread_name_prefix="rag-harden-openai",
        ) as pool:
            return list(pool.map(self.generate, requests))

    def stream(self, request: GenerationRequest) -> TokenStream:
        """Content deltas from the endpoint's server-sent events (``stream: true``), ended by ``[DONE]``."""
        from harness.serving.sse import DONE, iter_sse

        text, reason, model = "", None, self.config.model
        usage: dict[str, Any] = {}
        payload = self._payload(request, stream=True)
        with self._transport_errors(), self._client.stream("POST", self.url, json=payload) as response:
            if response.status_code != 200:
                body = response.read().decode("utf-8", "replace")
                raise BackendUnavailable(
                    f"generator endpoint {self.url} answered HTTP {response.status_code}: {body[:200]}"
                )
            for data in iter_sse(response.iter_bytes()):
                if data == DONE:
                    break
                try:
                    chunk = json.loads(data)
                    choices = chunk.get("choices") or []
                    delta = (choices[0].get("delta") or {}).get("content") if choices else None
                except (ValueError, AttributeError, TypeError) as exc:
                    raise BackendUnavailable(
                        f"generator endpoint {self.url} sent an unexpected event: {data[:200]}"
                    ) from exc
                usage = chunk.get("usage") or usage
                model = str(chunk.get("model", model))
                if choices and choices[0].get("finish_reason"):
                    reason = choices[0]["finish_reason"]
                if delta:
                    text += delta
                    yield delta
        return Generation(
            text=text.strip(),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=reason,
            model=model,
        )

    def generate(self, request: GenerationRequest) -> Generation:
        with self._transport_errors():
            response = self._client.post(self.url, json=self._payload(request))
        if response.status_code != 200:
            raise BackendUnavailable(
                f"generator endpoint {self.url} answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            body = response.json()
            choice = body["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendUnavailable(
                f"generator endpoint {self.url} returned an unexpected body: {response.text[:200]}"
            ) from exc
        usage = body.get("usage") or {}
        return Generation(
            text=text.strip(),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            finish_reason=choice.get("finish_reason"),
            model=str(body.get("model", self.config.model)),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "openai",
            "base_url": self.config.base_url,
            "model": self.config.model,
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
            "max_concurrency": self.config.max_concurrency,
        }

    def close(self) -> None:
        self._client.close()


@GENERATORS.register("openai")
def build(config: OpenAIGeneratorConfig, *, ctx: BuildContext) -> OpenAIChatGenerator:
    return OpenAIChatGenerator(config, transport=ctx.transport)
