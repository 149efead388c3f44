"""Server-sent events (the ``text/event-stream`` framing OpenAI-compatible streaming uses), in one place: the
server formats events with :func:`format_event`, and clients (the load worker, tests) parse them with
:func:`iter_sse`. Standard library only: the gevent load worker imports it.

Framing (WHATWG HTML, "server-sent events"): an event is a block of lines ended by a blank line; ``data:``
lines carry the payload (several are joined with a newline; one space after the colon is dropped); lines
starting with ``:`` are comments; lines end with CR LF, LF or CR. OpenAI-style streams end with
``data: [DONE]``.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

DONE = "[DONE]"
MEDIA_TYPE = "text/event-stream"


def format_event(data: str) -> bytes:
    """One event carrying ``data`` (each of its lines becomes a ``data:`` line), UTF-8 encoded."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return ("".join(f"data: {line}\n" for line in lines) + "\n").encode("utf-8")


class SSEDecoder:
    """Incremental parser: feed it bytes as they arrive, it returns the data of every event completed so far.
    Events without data (comments, ``event:``/``id:``/``retry:`` only) yield nothing."""

    def __init__(self) -> None:
        self._buffer = ""
        self._data: list[str] = []
        self._pending_cr = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")

    def feed(self, chunk: bytes) -> list[str]:
        text = self._decoder.decode(chunk)
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the \n of a \r\n split across chunks
        self._pending_cr = text.endswith("\r")
        self._buffer += text
        *lines, self._buffer = self._buffer.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return [event for line in lines if (event := self._line(line)) is not None]

    def close(self) -> list[str]:
        """The last event when the stream ends without its blank line."""
        out = self.feed(b"\n") if self._buffer else []
        if self._data:
            out.append("\n".join(self._data))
            self._data = []
        return out

    def _line(self, line: str) -> str | None:
        if line == "":
            if not self._data:
                return None
            event, self._data = "\n".join(self._data), []
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None


def iter_sse(chunks: Iterable[bytes]) -> Iterator[str]:
    """The data of each event in a byte stream, in order (``[DONE]`` included: the caller decides)."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """:func:`iter_sse` for an async byte stream (``httpx.Response.aiter_bytes()``)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


__all__ = ["DONE", "MEDIA_TYPE", "SSEDecoder", "aiter_sse", "format_event", "iter_sse"]
