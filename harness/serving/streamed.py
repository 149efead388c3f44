"""A blocking iterator (the pipeline's :meth:`~harness.pipeline.rag.RagPipeline.answer_stream`) consumed from
the event loop: it runs on an admission-controlled pipeline thread, and each item crosses to the loop as soon
as it is produced, so a streamed response can send tokens while the model is still generating.

Errors of admission (:class:`~harness.serving.admission.Overloaded`, ``DeadlineExceeded``) and of the pipeline
are raised by the ``__anext__`` that would have returned the next item; the route awaits the first item
before it sends any header, so a failure before the first token still gets its HTTP status. Closing the async
iterator (the client went away) stops the producer at its next item and closes the blocking iterator, which
stops generation.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TypeVar

from harness.serving.admission import Admission, Deadline

T = TypeVar("T")
_END = object()


async def admitted_stream(
    admission: Admission, produce: Callable[[], Generator[T, None, None]], deadline: Deadline
) -> AsyncGenerator[T, None]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def run() -> None:
        items = produce()
        try:
            for item in items:
                loop.call_soon_threadsafe(queue.put_nowait, item)
                if stop.is_set():
                    break
        finally:
            items.close()  # a closed generator stops generating

    task = asyncio.ensure_future(admission.run(run, deadline=deadline))
    task.add_done_callback(lambda _t: queue.put_nowait(_END))
    try:
        while True:
            item = await queue.get()
            if item is _END:
                break
            yield item  # type: ignore[misc]
        task.result()  # re-raises what ended the run (admission or pipeline)
    finally:
        stop.set()
        if not task.done():
            task.cancel()


__all__ = ["admitted_stream"]
