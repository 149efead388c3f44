"""Token streaming end to end on a real uvicorn server on 127.0.0.1: ``/v1/chat/completions`` with
``stream: true`` sends deltas while the generator is still producing them, and the answer guard's hold-back
window keeps a planted e-mail address and phone number out of every chunk."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from guards import build_guards
from harness.config import PiiGuardConfig, ServeConfig
from harness.pipeline.protocols import AnswersPipeline
from harness.pipeline.streaming import GuardedRelease
from harness.serve import create_app
from tests.fakes import LoopbackServer, StreamingSlowGenerator, small_pipeline

EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0132"
LEAKY = (f"The travel desk handles bookings for every office. Write to {EMAIL} or call {PHONE} for approval, "
         "and attach the receipts to the expense claim within thirty days [1].")


def serve(pipeline):
    return LoopbackServer(create_app(ServeConfig(), lambda: pipeline, load_in_background=False))


def stream_chat(url: str) -> list[tuple[float, dict]]:
    """(arrival time, chunk) for every event but ``[DONE]``."""
    body = {"messages": [{"role": "user", "content": "How do I book travel?"}], "stream": True,
            "stream_options": {"include_usage": True}}
    out: list[tuple[float, dict]] = []
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                out.append((time.perf_counter(), json.loads(line[6:])))
    return out


def contents(events: list[tuple[float, dict]]) -> list[tuple[float, str]]:
    return [(t, c["choices"][0]["delta"]["content"]) for t, c in events
            if c["choices"] and c["choices"][0]["delta"].get("content")]


def test_streamed_chat_sends_deltas_as_they_are_generated() -> None:
    generator = StreamingSlowGenerator(delay_s=0.05)
    with serve(small_pipeline(generator)) as url:
        events = stream_chat(url)
    deltas = contents(events)
    assert len(deltas) > 3, "more than one content chunk"
    assert "".join(d for _, d in deltas) == generator.text
    # 16 pieces 50 ms apart: a stream of the finished answer would deliver them all at once.
    assert deltas[-1][0] - deltas[0][0] > 0.3, "the first chunk arrives well before the last"
    assert events[-1][1]["usage"]["completion_tokens"] == len(generator.text.split(" "))
    finish = [c["choices"][0].get("finish_reason") for _, c in events if c["choices"]]
    assert finish[-1] == "stop"


def test_streamed_chat_never_releases_a_planted_personal_value() -> None:
    guards = build_guards([PiiGuardConfig(entities=["EMAIL_ADDRESS", "PHONE_NUMBER"])])
    generator = StreamingSlowGenerator(LEAKY, delay_s=0.01)
    with serve(small_pipeline(generator, guards=guards)) as url:
        deltas = contents(stream_chat(url))
    text = "".join(d for _, d in deltas)
    assert len(deltas) > 1, "still streamed, not one final chunk"
    assert text.startswith("The travel desk handles bookings")
    for value in (EMAIL, PHONE, "jane.doe", "555 0132"):
        assert value not in text and all(value not in d for _, d in deltas)
    assert "<EMAIL_ADDRESS>" in text and "receipts" in text


def test_streamed_chat_unguarded_would_leak() -> None:
    """The same stream without the guard: the planted values are there (the guarded test is not vacuous)."""
    with serve(small_pipeline(StreamingSlowGenerator(LEAKY, delay_s=0.0))) as url:
        text = "".join(d for _, d in contents(stream_chat(url)))
    assert EMAIL in text and PHONE in text


@pytest.mark.parametrize("holdback", [64, 40])
def test_guarded_release_releases_only_checked_text(holdback: int) -> None:
    guards = build_guards([PiiGuardConfig(entities=["EMAIL_ADDRESS", "PHONE_NUMBER"])])
    release = GuardedRelease(guards, holdback_chars=holdback)
    pieces = [w if i == 0 else " " + w for i, w in enumerate(LEAKY.split(" "))]
    out = []
    for i, piece in enumerate(pieces):
        out.append(release.feed(piece))
        released = "".join(out)
        assert EMAIL[:9] not in released and "555" not in released, f"leak after piece {i}"
        raw_tail = len(release.raw.lstrip())
        assert len(released) == 0 or raw_tail - len(released) >= min(holdback, raw_tail) - 30
    out.append(release.finish())
    text = "".join(out)
    assert text == release.final_text and EMAIL not in text and PHONE not in text
    assert release.checks > 2 and not release.retracted and not release.blocked


def test_block_action_stops_the_stream_before_the_value() -> None:
    guards = build_guards([PiiGuardConfig(entities=["EMAIL_ADDRESS"], action="block")])
    pipeline = small_pipeline(StreamingSlowGenerator(LEAKY, delay_s=0.0), guards=guards)
    items = list(pipeline.answer_stream("How do I book travel?"))
    final, deltas = items[-1], items[:-1]
    assert final.blocked == "answer" and final.answer == "The answer was withheld by a guard."
    text = "".join(deltas)
    assert EMAIL not in text and "jane" not in text and text.endswith("The answer was withheld by a guard.")
    assert pipeline.generator.closed_early, "generation is stopped once the guard blocks"


def test_a_client_that_goes_away_stops_the_generation() -> None:
    generator = StreamingSlowGenerator(delay_s=0.1)
    with serve(small_pipeline(generator)) as url:
        body = {"messages": [{"role": "user", "content": "Hotel cap?"}], "stream": True}
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as r:
            for line in r.iter_lines():
                if '"content"' in line:
                    break  # leave after the first delta
        deadline = time.monotonic() + 5
        while not generator.closed_early and time.monotonic() < deadline:
            time.sleep(0.05)
    assert generator.closed_early, "the generator's stream is closed once nobody reads it"


class AnswersOnly(AnswersPipeline):
    """An answers pipeline that implements ``answer`` and ``answer_many`` only (as an external target does):
    it streams through the protocol's default ``answer_stream``."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0

    def answer(self, question, top_k=None, *, guarded=True):
        self.calls += 1
        return self.inner.answer(question, top_k, guarded=guarded)

    def answer_many(self, questions, top_k=None, *, guarded=True):
        return [self.answer(q, top_k, guarded=guarded) for q in questions]


def test_a_pipeline_without_its_own_stream_streams_the_guarded_answer_in_one_chunk() -> None:
    guards = build_guards([PiiGuardConfig(entities=["EMAIL_ADDRESS", "PHONE_NUMBER"])])
    pipeline = AnswersOnly(small_pipeline(StreamingSlowGenerator(LEAKY, delay_s=0.0), guards=guards))
    items = list(pipeline.answer_stream("How do I book travel?"))
    assert len(items) == 2 and items[0] == items[1].answer and pipeline.calls == 1
    with serve(pipeline) as url:
        events = stream_chat(url)
    deltas = contents(events)
    assert [d for _, d in deltas] == [items[1].answer], "the whole guarded answer, once"
    assert EMAIL not in deltas[0][1] and "<EMAIL_ADDRESS>" in deltas[0][1]
    assert events[-1][1]["usage"]["completion_tokens"] == len(LEAKY.split(" "))
    assert [c["choices"][0].get("finish_reason") for _, c in events if c["choices"]][-1] == "stop"


def test_guarded_release_checks_first_when_text_could_be_released() -> None:
    """No guard call while the answer is within the window (nothing could be released); the first call comes
    with the first piece past it, and it releases text."""
    guards = build_guards([PiiGuardConfig(entities=["EMAIL_ADDRESS", "PHONE_NUMBER"])])
    release = GuardedRelease(guards, holdback_chars=64, check_every_chars=24)
    pieces = [w if i == 0 else " " + w for i, w in enumerate(LEAKY.split(" "))]
    for piece in pieces:
        released = release.feed(piece)
        if len(release.raw.strip()) <= 64:
            assert release.checks == 0 and released == ""
        else:
            assert release.checks == 1 and released and LEAKY.startswith(released)
            break
    else:
        raise AssertionError("the answer never grew past the window")
