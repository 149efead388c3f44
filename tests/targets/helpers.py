"""Shared set-up of the target tests: scenario files with a ``target:`` block, and bench components built with
the hashing embedder (fast; the slow tier uses the real models through harness.compose)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.config import Scenario, load_scenario
from harness.runner import BenchComponents
from harness.targets import build_target

REPO = Path(__file__).resolve().parents[2]


def write_scenario(folder: Path, name: str, *, target: dict[str, Any] | None = None,
                   pipeline: dict[str, Any] | None = None, golden: Path | None = None,
                   asserts: list[dict[str, Any]] | None = None, extra: dict[str, Any] | None = None) -> Path:
    data: dict[str, Any] = {"name": name, "corpus": {"paths": [str(REPO / "golden_sets" / "demo_corpus")]},
                            "golden_set": str(golden or REPO / "golden_sets" / "demo_golden.jsonl"),
                            "report": {"redact_pii": False}}
    if target is not None:
        data["target"] = target
    if pipeline is not None:
        data["pipeline"] = pipeline
    data["asserts"] = asserts or []
    data.update(extra or {})
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def target_parts(scenario: Scenario, scorers: dict[str, Any], **kwargs: Any) -> BenchComponents:
    """Components scoring ``scenario``'s target with the shared scorers (see conftest.py), its leak and
    injection probes included."""
    assert scenario.target is not None
    target = build_target(scenario.target, **kwargs)
    from harness.compose import attack_probes
    from harness.eval.leaks import PlantedValues

    planted = PlantedValues.load(scenario.leak_probe.planted_values) if scenario.leak_probe else None
    canary, attacks, outcomes = attack_probes(scenario, target, planted, lambda _m: None)
    return BenchComponents(pipeline=target, scorer=scorers["scorer"], description=target.describe(),
                           groundedness=scorers["groundedness"], redact=kwargs.get("redact", lambda t: t),
                           planted=planted, canary=canary, extra_metrics=attacks, probe_outcomes=outcomes)


def extractive_pipeline(corpus: list[Path], embedder: Any, chunking: Any = None) -> Any:
    """The reference pipeline over ``corpus`` (its index built from the documents) with the extractive
    generator: what the served tests put behind ``harness.serve.create_app``."""
    from harness.config import ChunkingConfig, ExtractiveGeneratorConfig, PipelineConfig
    from harness.pipeline.documents import chunk_documents, load_documents
    from harness.pipeline.retrievers.faiss_flat import FlatIPIndex
    from harness.pipeline.generators.extractive import ExtractiveGenerator
    from harness.pipeline.rag import RagPipeline

    chunks = chunk_documents(load_documents(corpus), chunking or ChunkingConfig())
    index = FlatIPIndex.from_vectors(embedder.embed([c.text for c in chunks], kind="passage"))
    return RagPipeline(embedder=embedder, index=index, chunks=chunks, config=PipelineConfig(),
                       generator=ExtractiveGenerator(ExtractiveGeneratorConfig(min_support=0.3), embedder))


def load(path: Path) -> Scenario:
    return load_scenario(path)
