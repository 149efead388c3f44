"""Admission control: at most ``max_concurrency`` calls run at once, at most ``max_queue`` wait for a slot,
and every call has a deadline that covers its wait and its run. Beyond the queue a call is refused at once
(:class:`Overloaded`, the server's 429 with ``Retry-After``), so memory stays bounded under overload; past
the deadline it fails with :class:`DeadlineExceeded` (the server's 504). No HTTP here: the app maps the
exceptions.

A call that misses its deadline keeps its slot until its worker thread really finishes: the thread cannot be
stopped, and counting it as free would let more pipeline calls run at once than ``max_concurrency`` allows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

T = TypeVar("T")


class Overloaded(Exception):
    """Every slot is taken and the queue is full: retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"at capacity; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class DeadlineExceeded(Exception):
    """The deadline passed while waiting for a slot (``phase="queue"``) or while running (``phase="run"``)."""

    def __init__(self, phase: Literal["queue", "run"], timeout_s: float) -> None:
        where = "queued" if phase == "queue" else "running"
        super().__init__(f"deadline of {timeout_s:g} s passed while {where}")
        self.phase = phase
        self.timeout_s = timeout_s


class Deadline:
    """A point on the monotonic clock ``timeout_s`` from now."""

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self._clock = clock
        self.at = clock() + timeout_s

    def remaining(self) -> float:
        return max(self.at - self._clock(), 0.0)

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


class Admission:
    """Bounded concurrency and a bounded queue in front of blocking calls run on a thread pool of
    ``max_concurrency`` threads. Use from one event loop (the server's)."""

    def __init__(self, max_concurrency: int, max_queue: int, retry_after_s: int = 1) -> None:
        if max_concurrency < 1 or max_queue < 0:
            raise ValueError("max_concurrency must be >= 1 and max_queue >= 0")
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.retry_after_s = retry_after_s
        self._slots = asyncio.Semaphore(max_concurrency)
        self._executor = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="rag-harden")
        self.waiting = 0
        self.running = 0
        self.refused = 0
        self.timed_out = 0

    async def run(self, call: Callable[..., T], *args: object, deadline: Deadline) -> T:
        """``call(*args)`` on a pipeline thread once a slot is free, within ``deadline``.

        One future and one timer per call: the pool's own future wakes the loop when the call ends, the timer
        when the deadline passes, whichever comes first (``asyncio.wait_for`` over a shielded
        ``run_in_executor`` made a task, three futures and their callbacks for the same)."""
        await self._acquire(deadline)
        self.running += 1
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        work = self._executor.submit(call, *args)
        work.add_done_callback(lambda _work: _call_from_thread(loop, _wake, woken))
        timer = loop.call_later(max(deadline.remaining(), 0.001), _wake, woken)
        try:
            await woken
        finally:
            timer.cancel()
            if work.done():
                self._release()
            else:  # timed out or cancelled while the thread still runs: keep its slot until it ends
                work.add_done_callback(lambda _work: _call_from_thread(loop, self._release))
        if not work.done():
            self.timed_out += 1
            raise DeadlineExceeded("run", deadline.timeout_s)
        return work.result()

    async def _acquire(self, deadline: Deadline) -> None:
        if self.waiting + self.running >= self.max_concurrency + self.max_queue:
            self.refused += 1
            raise Overloaded(self.retry_after_s)
        if not self._slots.locked():  # a slot is free and nobody queues for one: taken without waiting
            await self._slots.acquire()
            return
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=max(deadline.remaining(), 0.001))
        except asyncio.TimeoutError:
            self.timed_out += 1
            raise DeadlineExceeded("queue", deadline.timeout_s) from None
        finally:
            self.waiting -= 1

    def _release(self) -> None:
        self.running -= 1
        self._slots.release()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


def _call_from_thread(loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: Any) -> None:
    """``callback(*args)`` on ``loop`` from a pool thread (dropped once the loop is closed: nobody waits)."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop closed meanwhile
        pass


__all__ = ["Admission", "Deadline", "DeadlineExceeded", "Overloaded"]
