"""The Prometheus collectors of ``rag-harden serve``, in a registry of their own (one per app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

STAGES = ("embed", "search", "generate", "total", "guard_query", "guard_context", "guard_answer")
SLOW_CLIENT_KINDS = ("header_timeout", "body_timeout")


class ServerMetrics:
    def __init__(self, running: Callable[[], float], waiting: Callable[[], float]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = reg = CollectorRegistry()
        buckets = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
        self.stage = Histogram(
            "rag_harden_stage_seconds", "Pipeline stage latency", ["stage"], buckets=buckets, registry=reg
        )
        self.requests = Counter(
            "rag_harden_requests_total",
            "Requests by endpoint and status",
            ["endpoint", "status"],
            registry=reg,
        )
        self.findings = Counter(
            "rag_harden_guard_findings_total", "Guard findings", ["guard", "stage", "entity"], registry=reg
        )
        self.errors = Counter("rag_harden_errors_total", "Errors by kind", ["kind"], registry=reg)
        self.slow_clients = Counter(
            "rag_harden_slow_clients_total",
            "Connections closed: the client sent its headers or body too slowly",
            ["kind"],
            registry=reg,
        )
        self.request_bytes = Counter(
            "rag_harden_request_body_bytes_total", "Request body bytes read", registry=reg
        )
        for kind in SLOW_CLIENT_KINDS:
            self.slow_clients.labels(kind)  # exported as 0 before the first one
        self.in_flight = Gauge("rag_harden_in_flight", "Requests running the pipeline", registry=reg)
        self.queued = Gauge("rag_harden_queued", "Requests waiting for a pipeline slot", registry=reg)
        self.in_flight.set_function(running)
        self.queued.set_function(waiting)
        # per request, the labelled children are looked up once, not by labels() (a lock, validation)
        self._stage_children = [(f"{stage}_ms", self.stage.labels(stage)) for stage in STAGES]
        self._request_children: dict[tuple[str, int], Any] = {}

    def observe_stages(self, timings: object) -> None:
        """Each stage's time (``<stage>_ms`` of ``timings``) into the stage histogram."""
        for attr, child in self._stage_children:
            child.observe(getattr(timings, attr) / 1e3)

    def count_request(self, endpoint: str, status: int) -> None:
        child = self._request_children.get((endpoint, status))
        if child is None:
            child = self._request_children[endpoint, status] = self.requests.labels(endpoint, str(status))
        child.inc()

    def slow_client(self, kind: str) -> None:
        self.slow_clients.labels(kind).inc()

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


__all__ = ["SLOW_CLIENT_KINDS", "STAGES", "ServerMetrics"]
