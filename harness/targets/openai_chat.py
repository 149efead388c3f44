"""``target: {kind: openai}``: an OpenAI-compatible chat endpoint as a closed-book LLM (no retrieval), through
the ``openai`` package (its client retries 429/5xx and connection errors, honouring ``Retry-After``).

An unreachable endpoint is :class:`BackendUnavailable` naming the URL; a timeout or an HTTP error is a
:class:`TargetError` for the item. :meth:`OpenAITarget.ask_stream` reads the endpoint's own stream (the guard
proxy streams it through, :mod:`harness.serving.proxy`). The API key comes from ``api_key_env`` and appears
in no message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from harness.errors import BackendUnavailable, ConfigError
from harness.guarding import GuardChain
from harness.pipeline.protocols import Generation
from harness.targets.base import GuardedTarget, TargetAnswer, TargetError, build_answer, public_url, snippet
from harness.targets.config import OpenAITargetConfig


class OpenAITarget(GuardedTarget):
    kind = "openai"
    streams = True

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

    def _messages(self, question: str) -> list[dict[str, str]]:
        system = self.config.system
        return ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": question}
        ]

    @contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        """The openai client's (and, mid-stream, httpx's) exceptions as rag-harden's, naming the URL only."""
        openai = self._openai
        try:
            yield
        except openai.APITimeoutError:
            raise TargetError(f"target {self.url} timed out after {self.config.timeout_s:g} s") from None
        except openai.APIConnectionError as exc:
            raise BackendUnavailable(
                f"cannot reach target {self.url}: {type(exc.__cause__ or exc).__name__}"
            ) from None
        except openai.APIStatusError as exc:
            raise TargetError(
                f"target {self.url} answered HTTP {exc.status_code}: "
                f"{snippet(exc.response.text, self.redact)}"
            ) from None
        except (openai.APIError, httpx.TransportError) as exc:  # a stream cut or garbled after its start
            raise TargetError(f"target {self.url}: the stream failed ({type(exc).__name__})") from None

    def ask(self, question: str, top_k: int | None) -> TargetAnswer:
        cfg = self.config
        messages = self._messages(question)
        started = time.perf_counter()
        with self._mapped_errors():
            response = self._client.chat.completions.create(
                model=cfg.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=cfg.max_tokens,
                temperature=cfg.temperature,
            )
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

    def ask_stream(self, question: str) -> Generator[str, None, Generation]:
        """The endpoint's own stream (``stream: true``, usage requested): text deltas as they arrive, then the
        :class:`Generation` (the text joined, usage, finish reason). Closing it closes the upstream stream."""
        cfg = self.config
        parts: list[str] = []
        usage: Any = None
        reason: str | None = None
        model = ""
        with self._mapped_errors():
            stream = self._client.chat.completions.create(  # type: ignore[call-overload]
                model=cfg.model,
                messages=self._messages(question),
                max_tokens=cfg.max_tokens,
                temperature=cfg.temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
            try:
                for chunk in stream:
                    model = chunk.model or model
                    usage = chunk.usage or usage
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    reason = choice.finish_reason or reason
                    if choice.delta is not None and choice.delta.content:
                        parts.append(choice.delta.content)
                        yield choice.delta.content
            finally:
                stream.close()
        return Generation(
            text="".join(parts).strip(),
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            finish_reason=reason,
            model=model,
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
