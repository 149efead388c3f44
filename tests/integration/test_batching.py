"""Batched answering: the pipeline runs each stage once per batch, and batched generation gives the answers
one-at-a-time generation gives (transformers: left-padded greedy ``generate()`` on a tiny random model;
openai: bounded concurrent requests to a real loopback server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.config import OpenAIGeneratorConfig, PromptConfig, TransformersGeneratorConfig
from harness.pipeline.generators import GENERATORS
from harness.pipeline.prompt import build_messages
from harness.pipeline.protocols import GenerationRequest, Passage, generate_many
from tests.fakes import CitingGenerator, LoopbackServer, small_pipeline, streaming_chat_app

QUESTIONS = [
    "What is the hotel cap in Berlin?",
    "How long is parental leave?",
    "Can I expense a taxi?",
    "Which cities have a higher hotel limit and how is the limit applied when a trip spans several cities?",
    "Per diem?",
    "Who approves travel outside the EU, and how far in advance must the request be made?",
]
PASSAGE = Passage(number=1, chunk_id="travel#0", doc_id="travel", start=0, end=60, score=0.9,
                  text="Hotels: the nightly cap is 180 EUR in Berlin and 150 EUR elsewhere.")


def requests() -> list[GenerationRequest]:
    return [GenerationRequest(question=q, passages=[PASSAGE],
                              messages=build_messages(q, [PASSAGE], PromptConfig())) for q in QUESTIONS]


def test_answer_many_embeds_once_and_matches_answer() -> None:
    pipeline = small_pipeline(CitingGenerator())
    one_by_one = [pipeline.answer(q) for q in QUESTIONS]
    calls = pipeline.embedder.calls
    batched = pipeline.answer_many(QUESTIONS)
    assert pipeline.embedder.calls == calls + 1, "one embedding call for the whole batch"
    assert [a.answer for a in batched] == [a.answer for a in one_by_one]
    def ids(answers: list) -> list[list[str]]:
        return [[p.chunk_id for p in a.passages] for a in answers]

    assert ids(batched) == ids(one_by_one)
    for a in batched:
        t = a.timings
        parts = (t.embed_ms + t.search_ms + t.generate_ms + t.guard_query_ms + t.guard_context_ms
                 + t.guard_answer_ms)
        assert t.total_ms == pytest.approx(parts) and t.embed_ms > 0


def test_transformers_batched_greedy_equals_one_at_a_time(tiny_lm_dir: Path) -> None:
    generator = GENERATORS.build(TransformersGeneratorConfig(model=str(tiny_lm_dir), max_new_tokens=16,
                                                             device="cpu", stop=[]))
    reqs = requests()
    lengths = {int(generator._encode([r])["input_ids"].shape[1]) for r in reqs}
    assert len(lengths) > 1, "the prompts must differ in length, so the batch is really padded"
    single = [generator.generate(r) for r in reqs]
    batched = generate_many(generator, reqs)
    differing = [i for i, (a, b) in enumerate(zip(single, batched, strict=True)) if a.text != b.text]
    print(f"batched vs one-at-a-time: {len(differing)} of {len(reqs)} answers differ: {differing}")
    assert differing == [], f"left padding changed {len(differing)} of {len(reqs)} greedy answers"
    assert [g.finish_reason for g in batched] == [g.finish_reason for g in single]
    assert [g.prompt_tokens for g in batched] == [g.prompt_tokens for g in single]


def drain(stream: Any) -> tuple[list[str], Any]:
    """A token stream's deltas and the Generation it returns."""
    deltas: list[str] = []
    while True:
        try:
            deltas.append(next(stream))
        except StopIteration as stop:
            return deltas, stop.value


def test_transformers_stream_concatenates_to_generate(tiny_lm_dir: Path) -> None:
    generator = GENERATORS.build(TransformersGeneratorConfig(model=str(tiny_lm_dir), max_new_tokens=20,
                                                             device="cpu", stop=[]))
    request = requests()[0]
    expected = generator.generate(request)
    deltas, final = drain(generator.stream(request))
    assert len(deltas) > 1, "tokens arrive one by one, not as one finished text"
    assert "".join(deltas).strip() == expected.text
    assert final == expected


def test_transformers_stream_stops_at_a_stop_string(tiny_lm_dir: Path) -> None:
    free = GENERATORS.build(TransformersGeneratorConfig(model=str(tiny_lm_dir), max_new_tokens=24,
                                                        device="cpu", stop=[]))
    text = free.generate(requests()[0]).text
    stop = text[len(text) // 2: len(text) // 2 + 2]
    if not stop.strip():
        pytest.skip("random model produced whitespace at the cut point")
    cut = GENERATORS.build(TransformersGeneratorConfig(model=str(tiny_lm_dir), max_new_tokens=24,
                                                       device="cpu", stop=[stop]))
    streamed = "".join(cut.stream(requests()[0]))
    assert stop not in streamed and streamed.strip() == cut.generate(requests()[0]).text


def test_openai_batch_is_concurrent_bounded_and_ordered() -> None:
    app = streaming_chat_app("Answer", delay_s=0.3)
    with LoopbackServer(app) as url:
        config = OpenAIGeneratorConfig(base_url=f"{url}/v1", model="m", max_concurrency=3)
        generator = GENERATORS.build(config)
        out = generator.generate_many(requests())
    assert [g.text for g in out] == [f"Answer ({len(r.messages[-1]['content'])})" for r in requests()]
    assert app.state.peak == 3, f"at most max_concurrency=3 in flight, and that many: {app.state.peak}"


def test_openai_stream_yields_the_endpoint_deltas() -> None:
    text = "The cap is 180 EUR in Berlin [1]."
    app = streaming_chat_app(text, delay_s=0.01)
    with LoopbackServer(app) as url:
        generator = GENERATORS.build(OpenAIGeneratorConfig(base_url=f"{url}/v1", model="m"))
        deltas, final = drain(generator.stream(requests()[0]))
    assert deltas == [w if i == 0 else " " + w for i, w in enumerate(text.split(" "))]
    assert final.text == text and final.completion_tokens == len(deltas) and final.finish_reason == "stop"
    assert app.state.requests[0]["stream"] is True


def test_extractive_streams_sentence_by_sentence() -> None:
    pipeline = small_pipeline(CitingGenerator())
    from harness.config import ExtractiveGeneratorConfig
    from harness.registry import BuildContext

    generator = GENERATORS.build(ExtractiveGeneratorConfig(max_sentences=3, min_support=-1.0),
                                 BuildContext(embedder=pipeline.embedder))
    passages, _, _ = pipeline.retrieve("What is the hotel cap in Berlin and for other cities?")
    request = GenerationRequest(question="hotel cap", passages=passages, messages=[])
    expected = generator.generate(request).text
    deltas = list(generator.stream(request))
    assert "".join(deltas) == expected
    assert len(deltas) == expected.count("] ") + 1


def test_transformers_builds_its_stop_string_criteria_once(tiny_lm_dir: Path, monkeypatch) -> None:
    """transformers would rebuild a StopStringCriteria (a pass over the whole vocabulary) on every
    ``generate()`` given ``stop_strings``; the generator builds one and reuses it, and it still stops there."""
    from transformers.generation.stopping_criteria import StopStringCriteria

    built = []
    init = StopStringCriteria.__init__

    def counting_init(self, *args, **kwargs) -> None:
        built.append(1)
        init(self, *args, **kwargs)

    monkeypatch.setattr(StopStringCriteria, "__init__", counting_init)
    free = GENERATORS.build(TransformersGeneratorConfig(model=str(tiny_lm_dir), max_new_tokens=24, device="cpu",
                                                        stop=[]))
    text = free.generate(requests()[0]).text
    stop = text[len(text) // 2: len(text) // 2 + 2]
    if not stop.strip():
        pytest.skip("random model produced whitespace at the cut point")
    cut = GENERATORS.build(TransformersGeneratorConfig(model=str(tiny_lm_dir), max_new_tokens=24, device="cpu",
                                                       stop=[stop]))
    outs = [cut.generate(requests()[0]), *generate_many(cut, requests()[:3]), cut.generate(requests()[0])]
    streamed = "".join(cut.stream(requests()[0]))
    assert len(built) == 1, f"one StopStringCriteria for the generator's lifetime, not {len(built)}"
    assert outs[0].text == outs[-1].text == streamed.strip() and stop not in outs[0].text
    assert outs[0].text == text[: text.find(stop)].strip() and outs[0].finish_reason == "stop"
