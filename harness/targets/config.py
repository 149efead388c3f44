"""Scenario configuration of the system under test: the ``target:`` block (a discriminated union on ``kind``).

Kept free of :mod:`harness.config` imports, so that module can import it; validation fails loudly like the
rest (``extra="forbid"``). Secrets are named by environment variable only (``headers_env``, ``api_key_env``)::

    target:
      kind: http
      url: https://rag.internal.example/api/ask
      headers: {X-Team: search}
      headers_env: {Authorization: RAG_API_TOKEN}     # the header's value is the variable's value, as given
      body: {query: "{question}", k: "{top_k}", session: "{conversation_id}"}
      paths: {answer: data.answer, contexts: "data.sources[*].content", doc_ids: "data.sources[*].id"}
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from harness.targets.paths import parse_path

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


def _json_path(value: str) -> str:
    parse_path(value)  # raises ValueError naming the problem
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
JsonPath = Annotated[str, AfterValidator(_json_path)]


class RetryConfig(_Strict):
    """Retries of a request answered 429 or 5xx: ``Retry-After`` when the target sends one, else exponential
    backoff (``backoff_s`` * 2^attempt), each wait capped at ``max_wait_s``."""

    attempts: int = Field(3, ge=1, le=20, description="Tries in all, the first included.")
    backoff_s: float = Field(0.5, ge=0.0, le=60.0)
    max_wait_s: float = Field(30.0, ge=0.0, le=600.0)


class ResponsePaths(_Strict):
    """Where the values are in the response JSON. Syntax (harness/targets/paths.py): dot-separated keys with
    ``[n]`` indexes and ``[*]`` for every element, e.g. ``data.answer``, ``choices[0].message.content``,
    ``contexts[*].text``; a leading ``$.`` is allowed. A path to a list takes the whole list."""

    answer: JsonPath = Field(description="The answer text (required; missing is an item error).")
    contexts: JsonPath | None = Field(
        None,
        description="The retrieved context texts (groundedness is scored "
        "against them; without them, against the golden set's "
        "reference_contexts).",
    )
    doc_ids: JsonPath | None = Field(
        None, description="The retrieved documents' ids, in rank order (retrieval metrics need them)."
    )
    citations: JsonPath | None = Field(None, description="Ids of the documents the answer cites.")
    prompt_tokens: JsonPath | None = None
    completion_tokens: JsonPath | None = None
    blocked: JsonPath | None = Field(
        None,
        description="A value that is true (or a non-empty string) when the "
        "target refused the request (counted as a decline).",
    )


class HttpTargetConfig(_Strict):
    """Any HTTP RAG service that answers a JSON request with JSON."""

    kind: Literal["http"] = "http"
    url: HttpUrl = Field(description="The full URL requests go to.")
    method: Literal["POST", "PUT", "GET"] = "POST"
    headers: dict[str, str] = Field(
        {}, description="Plain headers (no secrets: they are written to the report)."
    )
    headers_env: dict[str, str] = Field(
        {},
        description="Header -> name of the environment variable holding its value (sent as given, e.g. "
        "'Bearer abc'). Only the names are written anywhere.",
    )
    body: Any = Field(
        {"question": "{question}"},
        description="JSON request template. A string that is exactly '{question}', '{top_k}' or "
        "'{conversation_id}' becomes that value as a JSON value (top_k a number or null); inside a "
        "longer string the placeholder is replaced by text. Values are never spliced into JSON text. "
        "With GET, a flat object becomes the query string.",
    )
    top_k: int | None = Field(
        None, ge=1, le=100, description="The value of '{top_k}' (and the k of retrieval@k)."
    )
    paths: ResponsePaths
    timeout_s: float = Field(60.0, gt=0, le=3600, description="Per request.")
    max_concurrency: int = Field(4, ge=1, le=256, description="Requests in flight at once.")
    retry: RetryConfig = RetryConfig()
    server_timing: bool = Field(
        True,
        description="Read stage times from a Server-Timing header (names embed, "
        "search|retrieve|retrieval, generate|generation|llm).",
    )

    @field_validator("headers", "headers_env")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name!r}")
        return value

    @field_validator("headers_env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for header, env in value.items():
            if not re.match(_ENV_NAME, env):
                raise ValueError(f"headers_env.{header}: {env!r} is not an environment variable name")
        return value


class OpenAITargetConfig(_Strict):
    """Any OpenAI-compatible chat endpoint (``vllm serve``, a gateway) as a closed-book LLM: no retrieval, so
    groundedness is scored against the golden set's reference_contexts. Retries (429/5xx, Retry-After) are the
    ``openai`` client's."""

    kind: Literal["openai"] = "openai"
    base_url: HttpUrl = Field(description="e.g. http://127.0.0.1:8000/v1")
    model: str = Field(min_length=1)
    api_key_env: str | None = Field(
        None, pattern=_ENV_NAME, description="Environment variable holding the API key."
    )
    system: str | None = Field(
        "Answer the question concisely. If you do not know the answer, reply exactly: "
        "I don't know based on the provided documents.",
        description="System message (null: none).",
    )
    max_tokens: int = Field(256, ge=1, le=32_768)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    timeout_s: float = Field(60.0, gt=0, le=3600)
    max_concurrency: int = Field(4, ge=1, le=256)
    retries: int = Field(2, ge=0, le=20, description="Retries on 429/5xx and connection errors.")


class PipelineTargetConfig(_Strict):
    """The reference pipeline described by the scenario's ``pipeline:`` block (the default)."""

    kind: Literal["pipeline"] = "pipeline"


TargetConfig = Annotated[
    Union[HttpTargetConfig, OpenAITargetConfig, PipelineTargetConfig], Field(discriminator="kind")
]
EXTERNAL_KINDS = ("http", "openai")

__all__ = [
    "EXTERNAL_KINDS",
    "HttpTargetConfig",
    "OpenAITargetConfig",
    "PipelineTargetConfig",
    "ResponsePaths",
    "RetryConfig",
    "TargetConfig",
]
