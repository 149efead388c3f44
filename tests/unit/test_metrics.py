from __future__ import annotations


import pytest

from harness.eval.latency import summarize
from harness.eval.retrieval import metric_ks, retrieval_scores
from harness.pipeline.prompt import build_messages, parse_citations
from harness.pipeline.protocols import Passage
from harness.config import PromptConfig
from harness.text import strip_citations


def test_metric_ks() -> None:
    assert metric_ks(5) == [1, 3, 5, 10]
    assert metric_ks(4) == [1, 3, 4, 5, 10]
    assert metric_ks(1) == [1, 3, 5, 10]
    assert metric_ks(20) == [1, 3, 5, 10, 20]


@pytest.mark.parametrize(
    "retrieved, relevant, expected",
    [
        (["a", "b", "c"], ["a"], {"hit@1": 1, "recall@1": 1, "hit@3": 1, "recall@3": 1, "mrr": 1}),
        (["x", "a", "a", "b"], ["a", "b"], {"hit@1": 0, "recall@1": 0, "hit@3": 1, "recall@3": 0.5, "mrr": 0.5}),
        (["x", "y", "z"], ["a"], {"hit@1": 0, "recall@3": 0, "mrr": 0}),
        (["x", "x", "b", "a"], ["a", "b"], {"hit@3": 1, "recall@3": 0.5, "mrr": 1 / 3}),
    ],
)
def test_retrieval_scores(retrieved, relevant, expected) -> None:
    scores = retrieval_scores(retrieved, relevant, [1, 3])
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value), key


def test_retrieval_scores_need_relevant_documents() -> None:
    with pytest.raises(ValueError):
        retrieval_scores(["a"], [], [1])


def test_latency_percentiles_from_raw_samples() -> None:
    stats = summarize(list(range(1, 101)))
    assert stats.n == 100
    assert stats.p50_ms == pytest.approx(50.5)
    assert stats.p95_ms == pytest.approx(95.05)
    assert stats.max_ms == 100
    empty = summarize([])
    assert empty.n == 0 and empty.p95_ms is None


def passages() -> list[Passage]:
    return [Passage(number=i, chunk_id=f"d{i}#0", doc_id=f"d{i}", start=0, end=10, score=0.5, text=f"text {i}")
            for i in (1, 2, 3)]


def test_prompt_numbers_passages_and_asks_for_citations_and_abstention() -> None:
    messages = build_messages("Why?", passages(), PromptConfig())
    assert messages[0]["role"] == "system" and "[1]" in messages[0]["content"]
    assert "don't know" in messages[0]["content"]
    user = messages[1]["content"]
    assert "[1] text 1\n[2] text 2\n[3] text 3" in user and user.endswith("Question: Why?")
    shown = build_messages("Why?", passages(), PromptConfig(max_passages=2))[1]["content"]
    assert "[2] text 2" in shown and "[3]" not in shown
    closed = build_messages("Why?", passages(), PromptConfig(closed_book=True))[1]["content"]
    assert "text 1" not in closed and "no passages" in closed
    headed = [passages()[0].model_copy(update={"text": "# Travel policy\n\nHotels cost"})]
    assert "[1] Travel policy\n\nHotels cost" in build_messages("q", headed, PromptConfig())[1]["content"]
    long = [passages()[0].model_copy(update={"text": "y" * 5000})]
    assert len(build_messages("q", long, PromptConfig(max_passage_chars=100))[1]["content"]) < 400


def test_citations_are_parsed_in_order_and_unknown_numbers_dropped() -> None:
    cites = parse_citations("A [2]. B [1, 3]. C [2] and [9] and [x].", passages())
    assert [c.number for c in cites] == [2, 1, 3]
    assert cites[0].doc_id == "d2"
    assert parse_citations("no citations", passages()) == []


def test_strip_citations() -> None:
    assert strip_citations("The cap is 180 EUR [1]. Also [2, 3]") == "The cap is 180 EUR. Also"
    assert strip_citations("") == ""
    assert strip_citations("Year [2024] stays; [1234] is no citation [1]") == "Year [2024] stays; [1234] is no citation"
