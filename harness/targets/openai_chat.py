"""``target: {kind: openai}``: an OpenAI-compatible chat endpoint as a closed-book LLM (no retrieval), through
the ``openai`` package (its client retries 429/5xx and connection errors, honouring ``Retry-After``).

An unreachable endpoint is :class:`BackendUnavailable` naming the URL; a timeout or an HTTP error is a
:class:`TargetError` for the item. The API key comes from ``api_key_env`` and appears in no message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from harness.errors import BackendUnavailable, ConfigError
from harness.guarding import GuardChain
from harness.targets.base import GuardedTarget, TargetAnswer, TargetError, build_answer, public_url, snippet
from harness.targets.config import OpenAITargetConfig


class OpenAITarget(GuardedTarget):
    kind = "openai"

    def __init__(
        self,
        config: OpenAITargetConfig,
        *,
        redact: Callable[[str], str] = lambda t: t,
        guards: GuardChain | None = None,
        http_client: Any = None,
    ) -> None:
        import openai

        super().__init__(guards=guards, max_concurrency=config.max_concurrency)
        self.config = config
        self.redact = redact
        self.url = public_url(config.base_url)
        key = "EMPTY"
        if config.api_key_env:
            key = os.environ.get(config.api_key_env, "")
            if not key.strip():
                raise ConfigError(
                    f"target.api_key_env: environment variable {config.api_key_env} is not set or empty"
                )
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=key,
            timeout=config.timeout_s,
            max_retries=config.retries,
            http_client=http_client,
        )

    def ask(self, question: str, top_k: int | None) -> TargetAnswer:
        openai, cfg = self._openai, self.config
        messages = ([{"role": "system", "content": cfg.system}] if cfg.system else []) + [
            {"role": "user", "content": question}
        ]
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=cfg.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=cfg.max_tokens,
                temperature=cfg.temperature,
            )
        except openai.APITimeoutError:
            raise TargetError(f"target {self.url} timed out after {cfg.timeout_s:g} s") from None
        except openai.APIConnectionError as exc:
            raise BackendUnavailable(
                f"cannot reach target {self.url}: {type(exc.__cause__ or exc).__name__}"
            ) from None
        except openai.APIStatusError as exc:
            raise TargetError(
                f"target {self.url} answered HTTP {exc.status_code}: "
                f"{snippet(exc.response.text, self.redact)}"
            ) from None
        total_ms = (time.perf_counter() - started) * 1e3
        if not response.choices:
            raise TargetError(f"target {self.url}: the completion has no choices")
        choice = response.choices[0]
        usage = response.usage
        return build_answer(
            question,
            (choice.message.content or "").strip(),
            kind=self.kind,
            total_ms=total_ms,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            finish_reason=choice.finish_reason,
            model=response.model,
            messages=messages,
        )

    def describe(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "kind": "openai",
            "base_url": self.url,
            "model": cfg.model,
            "max_tokens": cfg.max_tokens,
            "temperature": cfg.temperature,
            "closed_book": True,
        }

    def close(self) -> None:
        self._client.close()


__all__ = ["OpenAITarget"]
