"""Composition: build the real pipeline, answer scorer and description that a scenario asks for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.config import Scenario
from harness.eval.answers import AnswerScorer
from harness.pipeline.rag import RagPipeline, build_pipeline
from harness.runner import BenchComponents


def describe_pipeline(pipeline: RagPipeline, scenario: Scenario) -> dict[str, Any]:
    return {
        "embedder": pipeline.embedder.fingerprint(),
        "retriever": pipeline.config.retriever.model_dump(mode="json"),
        "generator": pipeline.generator.describe(),
        "chunking": scenario.corpus.chunking.model_dump(),
        "n_chunks": len(pipeline.chunks),
    }


def build_for_bench(log: Callable[[str], None]) -> Callable[[Scenario], BenchComponents]:
    def build(scenario: Scenario) -> BenchComponents:
        pipeline = build_pipeline(scenario, log=log)
        return BenchComponents(pipeline=pipeline, scorer=AnswerScorer(pipeline.embedder),
                               description=describe_pipeline(pipeline, scenario), index_status=pipeline.index_status)

    return build


__all__ = ["build_for_bench", "describe_pipeline"]
