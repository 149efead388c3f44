"""Property-based fuzzing of `rag-harden serve` from its own OpenAPI schema (schemathesis), on a real uvicorn
on 127.0.0.1: whatever schemathesis generates for each operation, the server never answers 5xx, every status
code it answers is documented, and every response matches the schema it publishes (error bodies included).
Bounded: ``MAX_EXAMPLES`` per operation. schemathesis's own pytest plugin does not run on pytest 9 (it reads a
private ``Function._nodeid``), so each operation's strategy is driven by hypothesis directly."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from harness.config import ServeConfig  # noqa: E402
from harness.serve import create_app  # noqa: E402
from tests.fakes import LoopbackServer, SlowGenerator, small_pipeline  # noqa: E402

pytestmark = pytest.mark.slow
MAX_EXAMPLES = 60
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.fixture(scope="module")
def api_schema():
    config = ServeConfig(max_concurrency=4, max_queue=256)
    app = create_app(config, lambda: small_pipeline(SlowGenerator(0.0)), load_in_background=False)
    with LoopbackServer(app) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


def operations():
    return ["POST /v1/query", "POST /v1/chat/completions", "GET /v1/models", "GET /healthz", "GET /health",
            "GET /readyz", "GET /metrics"]


def test_the_schema_lists_every_operation(api_schema) -> None:
    assert sorted(r.ok().label for r in api_schema.get_all_operations()) == sorted(operations())


CASES = [(label, GenerationMode.POSITIVE) for label in operations()] + [
    (label, GenerationMode.NEGATIVE) for label in operations() if label.startswith("POST")]


@pytest.mark.parametrize("label,mode", CASES, ids=[f"{label} {mode.value}" for label, mode in CASES])
def test_no_server_error_and_responses_match_the_schema(api_schema, label: str, mode: GenerationMode) -> None:
    """Positive: requests the schema allows. Negative: requests it forbids (answered by a documented 4xx)."""
    (operation,) = [r.ok() for r in api_schema.get_all_operations() if r.ok().label == label]
    calls = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case) -> None:
        calls.append(case.call_and_validate(checks=CHECKS).status_code)

    fuzz()
    assert calls  # something was sent
