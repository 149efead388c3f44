"""Server-sent events: what the server writes, the load worker and the tests read back, however the bytes are
split in transit."""

from __future__ import annotations

import asyncio
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.serving.sse import DONE, SSEDecoder, aiter_sse, format_event, iter_sse


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


payloads = st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(payloads, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_round_trip_whatever_the_chunking(events: list[str], cuts: list[int]) -> None:
    wire = b"".join(format_event(e) for e in events)
    expected = [e.replace("\r\n", "\n").replace("\r", "\n") for e in events]
    assert list(iter_sse(split(wire, cuts))) == expected


def test_openai_stream_framing() -> None:
    chunk = {"choices": [{"delta": {"content": "Hello"}}]}
    wire = format_event(json.dumps(chunk)) + format_event(DONE)
    assert wire == b'data: {"choices": [{"delta": {"content": "Hello"}}]}\n\ndata: [DONE]\n\n'
    assert [json.loads(e) if e != DONE else e for e in iter_sse([wire])] == [chunk, DONE]


def test_crlf_comments_other_fields_and_multiline_data() -> None:
    wire = (b": keep-alive comment\r\n\r\nevent: message\r\nid: 7\r\ndata: first\r\ndata:second\r\n\r\n"
            b"retry: 100\n\ndata: no blank line at the end")
    assert list(iter_sse([wire])) == ["first\nsecond", "no blank line at the end"]


def test_crlf_split_between_chunks_and_utf8_split_inside_a_character() -> None:
    wire = "data: café ☕\r\n\r\n".encode()
    cut = wire.index(b"\r") + 1  # \r | \n
    inside = wire.index("☕".encode()) + 1  # a multi-byte character cut in two
    assert list(iter_sse([wire[:inside], wire[inside:cut], wire[cut:]])) == ["café ☕"]


def test_decoder_yields_events_as_soon_as_they_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b") == ["a"]
    assert decoder.close() == ["b"]


def test_async_reader() -> None:
    async def chunks():
        for piece in (b"data: x\n", b"\n", b"data: [DONE]\n\n"):
            yield piece

    async def collect() -> list[str]:
        return [e async for e in aiter_sse(chunks())]

    assert asyncio.run(collect()) == ["x", DONE]
