"""``rag-harden serve``: the guarded reference pipeline over HTTP (FastAPI on uvicorn).

The parts live in :mod:`harness.serving` (app, admission control, models, errors, middleware, metrics,
server-sent events, uvicorn settings); this module is their public face.

Endpoints: ``POST /v1/query``, ``POST /v1/chat/completions`` (OpenAI-compatible: content parts, streaming with
``stream_options.include_usage``), ``GET /v1/models``, ``GET /healthz`` (and ``/health``), ``GET /readyz``,
``GET /metrics`` (Prometheus). Limits: at most ``max_concurrency`` requests run the pipeline and
``max_queue`` wait (then 429 with ``Retry-After``); a deadline per request (504); the body limit counted on
the stream (413); header and body read timeouts (408, counted in ``/metrics``); an optional bearer token
(401). Errors have one shape, ``{"error": {"type", "message", "request_id"}}``, and never echo the request;
logs carry types, sizes and request ids only.
"""

from harness.serving.admission import Admission, Deadline, DeadlineExceeded, Overloaded
from harness.serving.app import chat_events, create_app
from harness.serving.models import ChatRequest, QueryRequest
from harness.serving.server import BackgroundServer, exposure_warning, log_config, uvicorn_settings

__all__ = [
    "Admission",
    "BackgroundServer",
    "ChatRequest",
    "Deadline",
    "DeadlineExceeded",
    "Overloaded",
    "QueryRequest",
    "chat_events",
    "create_app",
    "exposure_warning",
    "log_config",
    "uvicorn_settings",
]
