"""The reference RAG pipeline: ingest, chunk, embed, index, retrieve, prompt with citations, generate."""

from harness.pipeline.rag import Answer, RagPipeline, StageTimings, build_pipeline

__all__ = ["Answer", "RagPipeline", "StageTimings", "build_pipeline"]
