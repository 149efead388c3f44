"""Admission control without HTTP: bounded concurrency, a bounded queue refused at once, deadlines that cover
the wait and the run, and slots held by calls that outlive their deadline."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from harness.serving.admission import Admission, Deadline, DeadlineExceeded, Overloaded


def test_at_most_max_concurrency_calls_run_at_once() -> None:
    lock, active, peak = threading.Lock(), [0], [0]

    def work() -> int:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return 1

    async def main() -> list[int]:
        admission = Admission(max_concurrency=2, max_queue=10)
        return await asyncio.gather(*(admission.run(work, deadline=Deadline(5)) for _ in range(8)))

    assert asyncio.run(main()) == [1] * 8
    assert peak[0] == 2


def test_beyond_the_queue_calls_are_refused_at_once_with_retry_after() -> None:
    async def main() -> tuple[list[object], float, Admission]:
        admission = Admission(max_concurrency=1, max_queue=2, retry_after_s=7)
        started = time.monotonic()
        calls = [admission.run(time.sleep, 0.2, deadline=Deadline(5)) for _ in range(6)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        return results, time.monotonic() - started, admission

    results, _, admission = asyncio.run(main())
    refused = [r for r in results if isinstance(r, Overloaded)]
    assert len(refused) == 3 and sum(r is None for r in results) == 3
    assert all(r.retry_after_s == 7 for r in refused) and admission.refused == 3
    assert admission.running == 0 and admission.waiting == 0


def test_refusal_does_not_wait_for_a_slot() -> None:
    async def main() -> float:
        admission = Admission(max_concurrency=1, max_queue=0)
        busy = asyncio.ensure_future(admission.run(time.sleep, 0.3, deadline=Deadline(5)))
        await asyncio.sleep(0.02)
        started = time.monotonic()
        with pytest.raises(Overloaded):
            await admission.run(time.sleep, 0, deadline=Deadline(5))
        elapsed = time.monotonic() - started
        await busy
        return elapsed

    assert asyncio.run(main()) < 0.05


def test_deadline_while_queued_and_while_running() -> None:
    async def main() -> tuple[BaseException | None, BaseException | None]:
        admission = Admission(max_concurrency=1, max_queue=5)
        slow = asyncio.ensure_future(admission.run(time.sleep, 0.4, deadline=Deadline(0.1)))
        await asyncio.sleep(0.01)
        queued = asyncio.ensure_future(admission.run(time.sleep, 0, deadline=Deadline(0.05)))
        results = await asyncio.gather(slow, queued, return_exceptions=True)
        return results[0], results[1]

    running, queued = asyncio.run(main())
    assert isinstance(running, DeadlineExceeded) and running.phase == "run"
    assert isinstance(queued, DeadlineExceeded) and queued.phase == "queue"


def test_a_call_past_its_deadline_keeps_its_slot_until_its_thread_ends() -> None:
    async def main() -> tuple[int, int, float]:
        admission = Admission(max_concurrency=1, max_queue=5)
        with pytest.raises(DeadlineExceeded):
            await admission.run(time.sleep, 0.3, deadline=Deadline(0.05))
        running_after_timeout = admission.running  # the thread still sleeps
        started = time.monotonic()
        await admission.run(time.sleep, 0, deadline=Deadline(5))  # waits for that thread, not for nothing
        return running_after_timeout, admission.running, time.monotonic() - started

    running_after_timeout, running_at_end, waited = asyncio.run(main())
    assert running_after_timeout == 1 and running_at_end == 0
    assert waited >= 0.15


def test_exceptions_from_the_call_propagate_and_free_the_slot() -> None:
    def boom() -> None:
        raise KeyError("boom")

    async def main() -> Admission:
        admission = Admission(max_concurrency=1, max_queue=0)
        for _ in range(3):  # would be refused if a failed call kept its slot
            with pytest.raises(KeyError):
                await admission.run(boom, deadline=Deadline(5))
        return admission

    assert asyncio.run(main()).running == 0


def test_deadline_counts_down_on_its_clock() -> None:
    now = [100.0]
    deadline = Deadline(2.0, clock=lambda: now[0])
    assert deadline.remaining() == 2.0 and not deadline.expired
    now[0] = 101.5
    assert deadline.remaining() == pytest.approx(0.5)
    now[0] = 103
    assert deadline.remaining() == 0.0 and deadline.expired


def test_bad_limits_are_rejected() -> None:
    with pytest.raises(ValueError):
        Admission(max_concurrency=0, max_queue=1)
    with pytest.raises(ValueError):
        Admission(max_concurrency=1, max_queue=-1)
