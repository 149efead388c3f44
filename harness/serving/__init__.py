"""The parts of ``rag-harden serve``; the public names are re-exported by :mod:`harness.serve`.

- :mod:`~harness.serving.app`: ``create_app``, the routes.
- :mod:`~harness.serving.admission`: bounded concurrency, a bounded queue and deadlines (no HTTP in it).
- :mod:`~harness.serving.models`: request and response models (OpenAI-compatible where the route is).
- :mod:`~harness.serving.errors`: the one error shape, and the handlers that never echo request content.
- :mod:`~harness.serving.middleware`: request ids, bearer token, body limit and read timeout, access log.
- :mod:`~harness.serving.json_routes`: the hot POST routes, answered by the middleware, not FastAPI.
- :mod:`~harness.serving.metrics`: the Prometheus collectors.
- :mod:`~harness.serving.sse`: server-sent events, written by the server and parsed by the load worker.
- :mod:`~harness.serving.server`: uvicorn settings (header timeout, limits), logging, the loopback server.

This package's ``__init__`` imports nothing, so that the load worker (a gevent process) can import
:mod:`harness.serving.sse` without FastAPI.
"""
