"""Composition: build the real pipeline, answer scorer and description that a scenario asks for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.config import Scenario
from harness.eval.answers import AnswerScorer
from harness.pipeline.rag import RagPipeline, build_pipeline


def describe_pipeline(pipeline: RagPipeline, scenario: Scenario) -> dict[str, Any]:
    return {
        "embedder": pipeline.embedder.fingerprint(),
        "retriever": pipeline.config.retriever.model_dump(mode="json"),
        "generator": pipeline.generator.describe(),
        "chunking": scenario.corpus.chunking.model_dump(),
        "n_chunks": len(pipeline.chunks),
    }


def build_for_bench(log: Callable[[str], None]) -> Callable[[Scenario], tuple[RagPipeline, AnswerScorer, dict[str, Any], Any]]:
    def build(scenario: Scenario) -> tuple[RagPipeline, AnswerScorer, dict[str, Any], Any]:
        pipeline = build_pipeline(scenario, log=log)
        return pipeline, AnswerScorer(pipeline.embedder), describe_pipeline(pipeline, scenario), pipeline.index_status

    return build


__all__ = ["build_for_bench", "describe_pipeline"]
