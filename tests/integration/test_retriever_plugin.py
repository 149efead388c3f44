"""A retriever backend is one module: a toy one, written to a temporary folder as an installed
distribution with an entry point in the ``rag_harden.retrievers`` group (what an outside package declares in
its pyproject), is found by name when a scenario asks for it, validates its own config block, appears in the
scenario schema, and serves retrieval for `rag-harden ask` through the persisted index folder."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import load_scenario, scenario_json_schema
from harness.errors import ConfigError
from harness.pipeline.retrievers import ENTRY_POINT_GROUP, RETRIEVERS

PLUGIN = '''
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from harness.config import RetrieverConfigBase
from harness.pipeline.retrievers import RETRIEVERS, RetrieverBackend

CALLS: list[str] = []


class ToyRetrieverConfig(RetrieverConfigBase):
    """Brute-force inner product in numpy; `skip` drops the best rows (an observable setting)."""

    backend: Literal["toy"] = "toy"
    skip: int = Field(0, ge=0, le=10)


class BruteForce:
    def __init__(self, vectors: np.ndarray, skip: int) -> None:
        self.vectors, self.skip = np.asarray(vectors, dtype=np.float32), skip

    @property
    def size(self) -> int:
        return len(self.vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        CALLS.append("search")
        scores = queries @ self.vectors.T
        ids = np.argsort(-scores, axis=1)[:, self.skip : self.skip + k]
        return np.take_along_axis(scores, ids, axis=1), ids

    def save(self, folder: Path) -> None:
        np.save(folder / "toy.npy", self.vectors)


@RETRIEVERS.register("toy", config=ToyRetrieverConfig)
def build(config: ToyRetrieverConfig, *, ctx: object) -> RetrieverBackend:
    def load(folder: Path) -> BruteForce:
        CALLS.append("load")
        return BruteForce(np.load(folder / "toy.npy"), config.skip)

    return RetrieverBackend(
        name="toy", kind="toy-brute-ip", build=lambda v: BruteForce(v, config.skip), load=load
    )
'''

DOCS = {
    "leave.md": "# Leave\n\nFull-time employees get 25 days of annual leave per calendar year.",
    "travel.md": "# Travel\n\nThe hotel cap in Berlin is 180 EUR per night; elsewhere it is 150 EUR.",
    "security.md": "# Security\n\nLaptops must use full-disk encryption and lock after five minutes.",
}


@pytest.fixture
def toy_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugin module and its dist-info on sys.path; unregistered afterwards so no other test sees it."""
    site = tmp_path / "site"
    dist = site / "toy_retriever_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "toy_retriever_plugin.py").write_text(PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-retriever-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntoy = toy_retriever_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    RETRIEVERS.unregister("toy")
    sys.modules.pop("toy_retriever_plugin", None)


def write_scenario(folder: Path, retriever: str) -> Path:
    corpus = folder / "corpus"
    corpus.mkdir(exist_ok=True)
    for name, text in DOCS.items():
        (corpus / name).write_text(text)
    (folder / "golden.jsonl").write_text(
        json.dumps(
            {
                "id": "q1",
                "user_input": "How many days of annual leave?",
                "reference": "25 days",
                "reference_doc_ids": ["leave"],
            }
        )
        + "\n"
    )
    path = folder / "toy.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: toy
        corpus: {{paths: [corpus]}}
        golden_set: golden.jsonl
        pipeline:
          retriever: {retriever}
          generator: {{backend: extractive}}
        """)
    )
    return path


def test_the_entry_point_backend_validates_its_own_config(toy_plugin: Path, tmp_path: Path) -> None:
    scenario = load_scenario(write_scenario(tmp_path, "{backend: toy, top_k: 2, skip: 1, index_dir: idx}"))
    retriever = scenario.pipeline.retriever
    assert type(retriever).__name__ == "ToyRetrieverConfig"
    assert (retriever.top_k, retriever.index_dir) == (2, tmp_path / "idx")  # base fields, path resolved
    assert retriever.model_dump()["skip"] == 1
    with pytest.raises(ConfigError, match=r"toy\.yaml:5: field 'pipeline\.retriever\.skipp': Extra inputs"):
        load_scenario(write_scenario(tmp_path, "{backend: toy, skipp: 1}"))
    with pytest.raises(
        ConfigError, match=r"toy\.yaml:5: field 'pipeline\.retriever\.skip': .*less than or equal"
    ):
        load_scenario(write_scenario(tmp_path, "{backend: toy, skip: 11}"))
    with pytest.raises(
        ConfigError,
        match=r"unknown retriever backend 'tyo' \(did you mean toy\?\); valid: "
        r"\['faiss', 'faiss-gpu', 'torch', 'toy'\]",
    ):
        load_scenario(write_scenario(tmp_path, "{backend: tyo}"))
    union = scenario_json_schema()["$defs"]["PipelineConfig"]["properties"]["retriever"]["oneOf"]
    assert {"$ref": "#/$defs/ToyRetrieverConfig"} in union


def test_ask_retrieves_through_the_toy_backend_and_reloads_it_from_its_manifest(
    toy_plugin: Path, tmp_path: Path
) -> None:
    path = write_scenario(tmp_path, "{backend: toy, top_k: 2, index_dir: idx}")
    runner = CliRunner()
    question = "How many days of annual leave do full-time employees get?"
    first = runner.invoke(app, ["ask", str(path), question, "--json"])
    assert first.exit_code == 0, first.output
    assert [p["doc_id"] for p in json.loads(first.stdout)["passages"]][0] == "leave"
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert (
        manifest["backend"] == "toy" and manifest["n_chunks"] == 3 and (tmp_path / "idx" / "toy.npy").exists()
    )
    plugin = sys.modules["toy_retriever_plugin"]
    assert plugin.CALLS == ["search"]  # built, not loaded, the first time

    second = runner.invoke(app, ["ask", str(path), question, "--json"])
    assert second.exit_code == 0, second.output
    assert plugin.CALLS == ["search", "load", "search"]  # the manifest named the toy backend's loader
    # The backend's own setting reaches it: skipping the best row (the only leave chunk) leaves it out.
    skipping = write_scenario(tmp_path, "{backend: toy, top_k: 2, skip: 1, index_dir: idx2}")
    third = runner.invoke(app, ["ask", str(skipping), question, "--json"])
    assert third.exit_code == 0, third.output
    passages = json.loads(third.stdout)["passages"]
    assert len(passages) == 2 and "leave" not in {p["doc_id"] for p in passages}
