"""Answer metrics computed by ragas's own non-LLM metric classes.

- ``answer.string_similarity``: ragas ``NonLLMStringSimilarity`` (normalised Levenshtein);
- ``answer.rouge_l``: ragas ``RougeScore`` (ROUGE-L F-measure);
- ``answer.semantic_similarity``: ragas ``SemanticSimilarity`` with the pipeline's own local embedder.
"""

from __future__ import annotations

import math
from typing import Any

from harness.pipeline.protocols import Embedder

ANSWER_METRICS = ("string_similarity", "rouge_l", "semantic_similarity")


def ragas_embeddings(embedder: Embedder) -> Any:
    """Wrap the pipeline's embedder in ragas's embedding interface, so ragas uses the same local model."""
    from ragas.embeddings.base import BaseRagasEmbedding

    class PipelineEmbeddings(BaseRagasEmbedding):
        def embed_text(self, text: str, **kwargs: Any) -> list[float]:
            return embedder.embed([text], kind="passage")[0].tolist()

        async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
            return self.embed_text(text)

    return PipelineEmbeddings()


class AnswerScorer:
    def __init__(self, embedder: Embedder) -> None:
        from ragas.metrics.collections import NonLLMStringSimilarity, RougeScore, SemanticSimilarity

        self._metrics = {
            "string_similarity": NonLLMStringSimilarity(),
            "rouge_l": RougeScore(rouge_type="rougeL", mode="fmeasure"),
            "semantic_similarity": SemanticSimilarity(embeddings=ragas_embeddings(embedder)),
        }

    def score(self, reference: str, response: str) -> dict[str, float]:
        scores = {}
        for name, metric in self._metrics.items():
            value = float(metric.score(reference=reference, response=response).value)
            scores[name] = value if math.isfinite(value) else float("nan")
        return scores


__all__ = ["ANSWER_METRICS", "AnswerScorer", "ragas_embeddings"]
