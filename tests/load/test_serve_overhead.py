"""bench.serve_overhead's server-side clock: one sample per HTTP request, taken at its last body message (a
streamed reply is timed to its end, not to its first chunk), nothing for other ASGI scopes."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable, Callable

from bench.serve_overhead import ServerClock

Send = Callable[[dict], Awaitable[None]]


def test_the_server_clock_times_each_http_request_to_its_last_body_message() -> None:
    log: list[str] = []

    class App:
        state = types.SimpleNamespace()  # kept by the clock: the server reads its limits there

        async def __call__(self, scope: dict, receive: object, send: Send) -> None:
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            log.append(f"chunk, {len(clock.samples_ms)} samples")
            await send({"type": "http.response.body", "body": b"b"})

    app = App()
    clock = ServerClock(app)

    async def sent(message: object) -> None:
        return None

    async def received() -> dict:
        return {"type": "http.disconnect"}

    async def main() -> None:
        for scope_type in ("lifespan", "http", "http"):
            await clock({"type": scope_type}, received, sent)

    asyncio.run(main())
    assert log == ["chunk, 0 samples", "chunk, 1 samples"]
    assert len(clock.samples_ms) == 2 and all(ms >= 0 for ms in clock.samples_ms)
    assert clock.state is app.state


def test_the_stub_records_how_late_each_of_its_sleeps_ended() -> None:
    from bench.serve_overhead import FixedLatencyPipeline

    stub = FixedLatencyPipeline(0.001)
    answers = [stub.answer("q"), stub.answer("q", 3)]
    assert answers[0].answer == answers[1].answer and len(stub.late_ms) == 2
    assert all(ms >= 0 for ms in stub.late_ms)  # a sleep never ends early


def test_the_in_process_driver_gets_a_200_for_every_request_it_counts() -> None:
    from bench.serve_app_cpu import _measure

    for path in ("/v1/query", "/v1/chat/completions"):
        row = asyncio.run(_measure(path, requests=40, concurrency=20))
        assert row["path"] == path and row["requests"] == 40 and row["cpu_ms_per_request"] > 0
