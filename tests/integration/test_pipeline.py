"""The reference pipeline end to end with real components: MiniLM, faiss, the extractive generator, ragas."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_scenario
from harness.eval.answers import AnswerScorer
from harness.pipeline.generators.extractive import DECLINE
from harness.pipeline.rag import RagPipeline, build_pipeline
from tests.conftest import scenario_variant


@pytest.fixture(scope="module")
def extractive_pipeline(repo: Path, tmp_path_factory) -> RagPipeline:
    path = scenario_variant(repo, tmp_path_factory.mktemp("scenario"), name="demo",
                            changes={"pipeline.generator": {"backend": "extractive"}})
    return build_pipeline(load_scenario(path))


def test_answers_carry_passages_citations_and_timings(extractive_pipeline: RagPipeline) -> None:
    answer = extractive_pipeline.answer("What is the hotel limit per night in Berlin?")
    assert "180 EUR" in answer.answer
    assert answer.citations, answer.answer
    assert answer.citations[0].doc_id == "policies/travel"
    cited = answer.passages[answer.citations[0].number - 1]
    assert cited.doc_id == "policies/travel" and cited.start < cited.end
    assert len(answer.passages) == 5
    assert [p.number for p in answer.passages] == [1, 2, 3, 4, 5]
    assert answer.passages[0].score >= answer.passages[-1].score
    t = answer.timings
    assert t.embed_ms > 0 and t.search_ms > 0 and t.generate_ms > 0
    assert t.total_ms >= t.embed_ms + t.search_ms + t.generate_ms


def test_top_k_override(extractive_pipeline: RagPipeline) -> None:
    assert len(extractive_pipeline.answer("How long is parental leave?", top_k=2).passages) == 2


def test_extractive_baseline_declines_without_support(extractive_pipeline: RagPipeline) -> None:
    answer = extractive_pipeline.answer("Who won the 2025 internal hackathon?")
    assert answer.answer == DECLINE
    assert answer.citations == []


def test_ragas_answer_metrics_rank_a_right_answer_above_a_wrong_one(extractive_pipeline: RagPipeline) -> None:
    scorer = AnswerScorer(extractive_pipeline.embedder)
    reference = "The hotel cap in Berlin is 180 EUR per night."
    right = scorer.score(reference, "In Berlin hotels are capped at 180 EUR per night.")
    wrong = scorer.score(reference, "Parental leave is 20 weeks for the primary caregiver.")
    same = scorer.score(reference, reference)
    assert set(right) == {"string_similarity", "rouge_l", "semantic_similarity"}
    for metric in right:
        assert same[metric] == pytest.approx(1.0, abs=1e-6)
        assert right[metric] > wrong[metric], metric
