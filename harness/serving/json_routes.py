"""The hot POST routes (``/v1/query``, ``/v1/chat/completions``), served by
:class:`~harness.serving.middleware.HardeningMiddleware` straight from the body it has already read, without
FastAPI's per-request machinery.

FastAPI stays the routes' declaration (OpenAPI, and every other route), but for each request it runs six
middleware layers, solves the endpoint's dependencies, parses the content type with ``email.message``,
validates the body, then validates the returned model again and walks it with ``jsonable_encoder`` before
``json.dumps``: at 200 req/s in front of a fixed-latency pipeline that was about 60% of the event loop's CPU
(py-spy, ``python -m bench.serve_overhead``). A :class:`JsonRoute` parses the body by FastAPI's rules (same
validation, same error locations and types: the tests compare both paths request by request) and its handler
returns a finished :class:`~starlette.responses.Response` (the model serialised once by pydantic-core).

What this costs: nothing added to the FastAPI app per request reaches these two routes (middleware added with
``add_middleware``, dependency overrides, FastAPI's own exception telemetry layer); put such things in
:class:`~harness.serving.middleware.HardeningMiddleware` or serve with ``create_app(direct_routes=False)``.
"""

from __future__ import annotations

import email.message
import functools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from harness.serving.errors import ApiError, api_error_response, invalid_request, unexpected_error

Model = TypeVar("Model", bound=BaseModel)
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]


class InvalidBody(Exception):
    """The body failed validation: ``errors`` in pydantic's shape, located under ``"body"`` as in FastAPI."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} validation errors")
        self.errors = errors


@functools.lru_cache(maxsize=64)
def is_json_type(content_type: bytes) -> bool:
    """FastAPI's test: ``application/json`` or ``application/*+json``, parameters ignored."""
    message = email.message.Message()
    message["content-type"] = content_type.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def parse_body(model: type[Model], body: bytes, content_type: bytes | None) -> Model:
    """``body`` as ``model``, by the rules FastAPI applies to a route with one body model: an empty body is
    missing, a JSON content type is parsed as JSON (an error gives its character position), anything else is
    validated as the raw bytes (and fails); then the model is validated from the parsed value."""
    if not body:
        raise InvalidBody([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    value: Any = body
    if content_type is not None and is_json_type(content_type):
        try:
            value = json.loads(body)
        except json.JSONDecodeError as exc:
            raise InvalidBody([{"type": "json_invalid", "loc": ("body", exc.pos), "input": {}}]) from None
        except (ValueError, RecursionError):  # not UTF-8 (or -16, -32), or nested too deep: FastAPI's 400
            raise ApiError(400, "bad_request", "bad request") from None
    try:
        return model.model_validate(value, from_attributes=True)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise InvalidBody([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


class JsonRoute(Generic[Model]):
    """A POST route whose body is one ``model`` and whose ``handler`` returns the whole reply."""

    def __init__(
        self, model: type[Model], handler: Callable[[Model], Awaitable[Response]], allowed: frozenset[str]
    ) -> None:
        self.model = model
        self.handler = handler
        self.allowed = allowed  # the field names a 422 may name (errors.known_field_names)

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, body: bytes, content_type: bytes | None
    ) -> None:
        """Reply to one request whose ``body`` has been read. An :class:`ApiError` gets its status, an invalid
        body the 422, any other exception the 500 of FastAPI's handler and is raised again, for the middleware
        to log (by type name), as Starlette's error middleware does."""
        request_id = scope["state"]["request_id"]
        try:
            response = await self.handler(parse_body(self.model, body, content_type))
        except InvalidBody as exc:
            response = invalid_request(exc.errors, self.allowed, request_id)
        except ApiError as exc:
            response = api_error_response(exc, request_id)
        except Exception as exc:
            await unexpected_error(exc, request_id)(scope, receive, send)
            raise
        await response(scope, receive, send)


__all__ = ["InvalidBody", "JsonRoute", "is_json_type", "parse_body"]
