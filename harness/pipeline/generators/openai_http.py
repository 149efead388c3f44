"""Any OpenAI-compatible chat endpoint: ``vllm serve``, a gateway, or a hosted API.

The API key is read, when the scenario names one, from the environment variable ``api_key_env``, when
the generator is built; it never appears in YAML, reports or logs. Transport errors become
:class:`BackendUnavailable` naming the URL.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from harness.config import OpenAIGeneratorConfig
from harness.errors import BackendUnavailable, ConfigError
from harness.pipeline.generators import GENERATORS
from harness.pipeline.protocols import Generation, GenerationRequest
from harness.registry import BuildContext


class OpenAIChatGenerator:
    def __init__(self, config: OpenAIGeneratorConfig, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        headers = {}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ConfigError(f"pipeline.generator.api_key_env: environment variable {config.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        self.url = f"{config.base_url}/chat/completions"
        self._client = httpx.Client(timeout=config.timeout_s, headers=headers, transport=transport)

    def generate(self, request: GenerationRequest) -> Generation:
        payload = {"model": self.config.model, "messages": request.messages, "max_tokens": self.config.max_tokens,
                   "temperature": self.config.temperature}
        try:
            response = self._client.post(self.url, json=payload)
        except httpx.TimeoutException as exc:
            raise BackendUnavailable(f"generator endpoint {self.url} timed out after {self.config.timeout_s:g} s") from exc
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"cannot reach generator endpoint {self.url}: {exc}") from exc
        if response.status_code != 200:
            raise BackendUnavailable(
                f"generator endpoint {self.url} answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            body = response.json()
            choice = body["choices"][0]
            text = choice["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise BackendUnavailable(f"generator endpoint {self.url} returned an unexpected body: {response.text[:200]}") from exc
        usage = body.get("usage") or {}
        return Generation(text=text.strip(), prompt_tokens=usage.get("prompt_tokens"),
                          completion_tokens=usage.get("completion_tokens"),
                          finish_reason=choice.get("finish_reason"), model=str(body.get("model", self.config.model)))

    def describe(self) -> dict[str, Any]:
        return {"backend": "openai", "base_url": self.config.base_url, "model": self.config.model,
                "max_tokens": self.config.max_tokens, "temperature": self.config.temperature}

    def close(self) -> None:
        self._client.close()


@GENERATORS.register("openai")
def build(config: OpenAIGeneratorConfig, *, ctx: BuildContext) -> OpenAIChatGenerator:
    return OpenAIChatGenerator(config, transport=ctx.transport)
