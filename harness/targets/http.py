"""``target: {kind: http}``: any HTTP RAG service that answers a JSON request with JSON.

The request body is a JSON template whose placeholders are substituted as JSON values (see
:class:`~harness.targets.config.HttpTargetConfig`); values are read back from the response with the paths of
:mod:`harness.targets.paths`. Faults:

- the target cannot be reached (connection refused, DNS): :class:`BackendUnavailable` naming the URL (exit 2);
- 429 and 5xx: retried (``Retry-After`` honoured), then a :class:`TargetError` for the item;
- a timeout, another 4xx, a body that is not JSON, an answer path that is missing: a :class:`TargetError`
  naming the URL (without credentials or query string), the status or path, and at most 200 characters of the
  body with personal data redacted.

Header values named by ``headers_env`` are read once, when the target is built, and never appear in a message.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from harness.errors import BackendUnavailable, ConfigError
from harness.guarding import GuardChain
from harness.targets.base import (
    GuardedTarget,
    TargetAnswer,
    TargetError,
    build_answer,
    parse_server_timing,
    public_url,
    retry_wait,
    snippet,
)
from harness.targets.config import HttpTargetConfig
from harness.targets.paths import PathMissing, get_all, get_one

_PLACEHOLDERS = ("{question}", "{top_k}", "{conversation_id}")
_PLACEHOLDER = re.compile(r"\{(question|top_k|conversation_id)\}")


def render_body(template: Any, values: dict[str, Any]) -> Any:
    """``template`` with placeholders substituted: a string that is exactly a placeholder becomes the value
    itself (any JSON type); inside a longer string the value is inserted as text. Keys are left alone."""
    if isinstance(template, str):
        if template in _PLACEHOLDERS:
            return values[template[1:-1]]
        # one pass, so a placeholder inside a substituted value (a question quoting "{top_k}") stays text
        return _PLACEHOLDER.sub(
            lambda m: "" if values[m.group(1)] is None else str(values[m.group(1)]), template
        )
    if isinstance(template, dict):
        return {k: render_body(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [render_body(v, values) for v in template]
    return template


def _secret_headers(config: HttpTargetConfig) -> dict[str, str]:
    headers = {}
    for header, env in config.headers_env.items():
        value = os.environ.get(env, "")
        if not value.strip():
            raise ConfigError(f"target.headers_env.{header}: environment variable {env} is not set or empty")
        headers[header] = value
    return headers


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _as_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


class HttpTarget(GuardedTarget):
    kind = "http"

    def __init__(
        self,
        config: HttpTargetConfig,
        *,
        redact: Callable[[str], str] = lambda t: t,
        guards: GuardChain | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(guards=guards, max_concurrency=config.max_concurrency)
        self.config = config
        self.redact = redact
        self.url = public_url(config.url)
        limits = httpx.Limits(
            max_connections=config.max_concurrency, max_keepalive_connections=config.max_concurrency
        )
        self._client = httpx.Client(
            timeout=config.timeout_s,
            headers={**config.headers, **_secret_headers(config)},
            transport=transport,
            limits=limits,
        )
        self._sleep = time.sleep
        self._lock = threading.Lock()
        self.requests_sent = 0

    # --- one request, with retries ----------------------------------------------------------------------

    def _send(self, payload: Any) -> httpx.Response:
        cfg = self.config
        for attempt in range(cfg.retry.attempts):
            with self._lock:
                self.requests_sent += 1
            try:
                if cfg.method == "GET":
                    params = payload if isinstance(payload, dict) else {}
                    response = self._client.get(
                        cfg.url, params={k: _as_text(v) for k, v in params.items() if v is not None}
                    )
                else:
                    response = self._client.request(cfg.method, cfg.url, json=payload)
            except httpx.TimeoutException as exc:
                raise TargetError(
                    f"target {self.url} timed out after {cfg.timeout_s:g} s ({type(exc).__name__})"
                ) from None
            except httpx.TransportError as exc:
                raise BackendUnavailable(f"cannot reach target {self.url}: {type(exc).__name__}") from None
            retryable = response.status_code == 429 or response.status_code >= 500
            if not retryable or attempt == cfg.retry.attempts - 1:
                return response
            self._sleep(
                retry_wait(
                    response.headers.get("retry-after"), attempt, cfg.retry.backoff_s, cfg.retry.max_wait_s
                )
            )
        raise AssertionError("unreachable")  # the loop returns on its last attempt

    def ask(self, question: str, top_k: int | None) -> TargetAnswer:
        cfg = self.config
        k = top_k if top_k is not None else cfg.top_k
        payload = render_body(
            cfg.body, {"question": question, "top_k": k, "conversation_id": uuid.uuid4().hex}
        )
        started = time.perf_counter()
        response = self._send(payload)
        total_ms = (time.perf_counter() - started) * 1e3
        if response.status_code >= 400:
            tries = (
                f" after {cfg.retry.attempts} attempts"
                if (response.status_code == 429 or response.status_code >= 500) and cfg.retry.attempts > 1
                else ""
            )
            raise TargetError(
                f"target {self.url} answered HTTP {response.status_code}{tries}: "
                f"{snippet(response.text, self.redact)}"
            )
        try:
            data = response.json()
        except ValueError:
            raise TargetError(
                f"target {self.url} returned a body that is not JSON: {snippet(response.text, self.redact)}"
            ) from None
        return self._parse(question, data, response, total_ms)

    # --- reading the response ---------------------------------------------------------------------------

    def _read(self, data: Any, path: str | None, body: str, *, many: bool, required: bool = False) -> Any:
        if path is None:
            return None
        try:
            return get_all(data, path) if many else get_one(data, path)
        except PathMissing as exc:
            if required:
                raise TargetError(
                    f"target {self.url}: response has no answer at {exc}; body: {snippet(body, self.redact)}"
                ) from None
            raise TargetError(f"target {self.url}: {exc}; body: {snippet(body, self.redact)}") from None

    def _parse(self, question: str, data: Any, response: httpx.Response, total_ms: float) -> TargetAnswer:
        paths, body = self.config.paths, response.text
        answer = self._read(data, paths.answer, body, many=False, required=True)
        if answer is not None and not isinstance(answer, str):
            raise TargetError(
                f"target {self.url}: the value at answer path {paths.answer!r} is a "
                f"{type(answer).__name__}, not text; body: {snippet(body, self.redact)}"
            )
        contexts = self._read(data, paths.contexts, body, many=True)
        doc_ids = self._read(data, paths.doc_ids, body, many=True)
        cited = self._read(data, paths.citations, body, many=True) or []
        blocked = self._read(data, paths.blocked, body, many=False)
        server_ms = (
            parse_server_timing(response.headers.get("server-timing")) if self.config.server_timing else {}
        )
        return build_answer(
            question,
            answer or "",
            kind=self.kind,
            contexts=[_as_text(c) for c in contexts or []],
            doc_ids=None if doc_ids is None else [_as_text(d) for d in doc_ids],
            cited=[_as_text(c) for c in cited],
            total_ms=total_ms,
            server_ms=server_ms,
            prompt_tokens=_as_int(self._read(data, paths.prompt_tokens, body, many=False)),
            completion_tokens=_as_int(self._read(data, paths.completion_tokens, body, many=False)),
            blocked=bool(blocked),
            contexts_returned=paths.contexts is not None,
        )

    def describe(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "kind": "http",
            "url": self.url,
            "method": cfg.method,
            "headers": sorted(cfg.headers),
            "headers_env": dict(cfg.headers_env),
            "paths": cfg.paths.model_dump(exclude_none=True),
            "top_k": cfg.top_k,
            "max_concurrency": cfg.max_concurrency,
            "timeout_s": cfg.timeout_s,
            "retry": cfg.retry.model_dump(),
        }

    def close(self) -> None:
        self._client.close()


__all__ = ["HttpTarget", "render_body"]
