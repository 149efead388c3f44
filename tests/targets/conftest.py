"""Scorers shared by the target tests (built once: the groundedness scorer takes seconds to load)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import HashingEmbedder


@pytest.fixture(scope="session")
def scorers() -> dict[str, Any]:
    from harness.config import HallucinationConfig
    from harness.eval.answers import AnswerScorer
    from harness.eval.groundedness import build_groundedness

    embedder = HashingEmbedder()
    return {"embedder": embedder, "scorer": AnswerScorer(embedder),
            "groundedness": build_groundedness(HallucinationConfig(), embedder)}


@pytest.fixture(scope="session")
def mixed_golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 8 answerable and the first 4 unanswerable items of the demo golden set, in file order."""
    repo = Path(__file__).resolve().parents[2]
    lines = (repo / "golden_sets" / "demo_golden.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    answerable = [i for i in items if i.get("answerable", True)][:8]
    unanswerable = [i for i in items if not i.get("answerable", True)][:4]
    keep = {i["id"] for i in answerable + unanswerable}
    path = tmp_path_factory.mktemp("golden") / "mixed.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items if i["id"] in keep), encoding="utf-8")
    return path
