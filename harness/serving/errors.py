"""One error shape for every reply that is not a success, ``{"error": {"type", "message", "request_id"}}``
(plus ``fields`` for invalid requests), and the handlers that produce it.

None of them echoes request content: an invalid request is reported by field location and pydantic error
type only (FastAPI's default 422 copies the input, personal data included), and an unexpected exception by its
type name and the request id (its message and traceback may hold the input). Locations keep only the models'
own field names and list indices; anything else in them (a key the client sent, say) is replaced by ``"*"``.

``type`` values: ``invalid_request`` 422, ``unauthorized`` 401, ``not_found`` 404, ``method_not_allowed`` 405,
``request_timeout`` 408, ``body_too_large`` 413, ``overloaded`` 429, ``internal_error`` 500,
``upstream_error`` 502 (the guard proxy's upstream), ``backend_unavailable`` 503, ``not_ready`` 503,
``deadline_exceeded`` 504.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from harness.serving.models import ErrorDetail, ErrorResponse, FieldError

log = logging.getLogger("rag_harden.serve")

_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "overloaded",
    500: "internal_error",
    503: "unavailable",
    504: "deadline_exceeded",
}


class ApiError(Exception):
    """Raised by a route to reply with the error shape; ``message`` must not contain request content."""

    def __init__(
        self, status: int, type_: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.headers = dict(headers or {})


def request_id_of(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))


def error_body(type_: str, message: str, request_id: str, fields: Iterable[FieldError] = ()) -> bytes:
    detail = ErrorDetail(type=type_, message=message, request_id=request_id, fields=list(fields))
    return ErrorResponse(error=detail).model_dump_json().encode()


def error_response(
    status: int,
    type_: str,
    message: str,
    request_id: str,
    *,
    headers: Mapping[str, str] | None = None,
    fields: Iterable[FieldError] = (),
) -> Response:
    return Response(
        error_body(type_, message, request_id, fields),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def known_field_names(models: Iterable[type[BaseModel]]) -> frozenset[str]:
    """Every field name and alias of ``models`` and the models nested in them: the only strings a reported
    error location may keep (plus FastAPI's ``body``/``query``/``path``/``header``)."""
    names = {"body", "query", "path", "header", "cookie"}
    seen: set[type[BaseModel]] = set()
    stack = list(models)
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            names.add(name)
            if field.alias:
                names.add(field.alias)
            stack.extend(_nested_models(field.annotation))
    return frozenset(names)


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _nested_models(arg)]


def safe_fields(errors: Iterable[Mapping[str, Any]], allowed: frozenset[str]) -> list[FieldError]:
    out = []
    for e in list(errors)[:20]:
        loc = [p if isinstance(p, int) or p in allowed else "*" for p in e.get("loc", ())]
        out.append(FieldError(loc=loc, type=str(e.get("type", "invalid"))[:64]))
    return out


def invalid_request(
    errors: Iterable[Mapping[str, Any]], allowed: frozenset[str], request_id: str
) -> Response:
    """The 422 for a request body that failed validation: each error's location (only ``allowed`` names
    and list indices kept) and pydantic type, never its input or message."""
    fields = safe_fields(errors, allowed)
    kinds = ", ".join(sorted({f.type for f in fields}))
    log.info("invalid request %s: %s", request_id, kinds)
    return error_response(
        422,
        "invalid_request",
        "the request does not match the schema; see fields",
        request_id,
        fields=fields,
    )


def api_error_response(exc: ApiError, request_id: str) -> Response:
    return error_response(exc.status, exc.type, exc.message, request_id, headers=exc.headers)


def unexpected_error(exc: Exception, request_id: str) -> Response:
    """The 500 for an exception no handler expected: its type name, never its message."""
    return error_response(500, "internal_error", f"internal error ({type(exc).__name__})", request_id)


def install_error_handlers(app: FastAPI, request_models: Iterable[type[BaseModel]]) -> None:
    allowed = known_field_names(request_models)

    async def invalid(request: Request, exc: Exception) -> Response:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        return invalid_request(errors, allowed, request_id_of(request))

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return api_error_response(exc, request_id_of(request))

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        headers = getattr(exc, "headers", None)
        phrase = _HTTP_TYPES.get(status, "http_error")
        return error_response(
            status, phrase, phrase.replace("_", " "), request_id_of(request), headers=headers
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        # Logged once, by the outer middleware (type name and request id only); here only the reply.
        return unexpected_error(exc, request_id_of(request))

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


__all__ = [
    "ApiError",
    "api_error_response",
    "error_body",
    "error_response",
    "install_error_handlers",
    "invalid_request",
    "known_field_names",
    "safe_fields",
    "unexpected_error",
]
