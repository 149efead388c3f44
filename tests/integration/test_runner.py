"""The scoring flow's promises: items are appended as scored, a crash or interrupt keeps them and the report,
errors are recorded, and a run can be resumed without scoring an item twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_scenario
from harness.eval.answers import AnswerScorer
from harness.pipeline.documents import chunk_documents, load_documents
from harness.pipeline.retrievers.faiss_flat import FlatIPIndex
from harness.pipeline.rag import RagPipeline
from harness.results import ItemResult
from harness.flow import score_scenario
from harness.runner import BenchComponents
from tests.fakes import CitingGenerator, FailingGenerator, HashingEmbedder, unreachable


@pytest.fixture()
def scenario(tmp_path: Path, repo: Path):
    path = tmp_path / "s.yaml"
    path.write_text(
        f"corpus: {{paths: ['{repo}/golden_sets/demo_corpus']}}\n"
        f"golden_set: '{repo}/golden_sets/demo_golden.jsonl'\n"
        "pipeline: {generator: {backend: extractive}}\n"
        "asserts: [{metric: run.error_rate, max: 0.0}]\n"
    )
    return path, load_scenario(path)


def run_scenario(sc, path, folder, *, build, limit=None, record=lambda _r: None, batch_size=1):
    return score_scenario(sc, path, folder, build(sc), limit=limit, record=record, batch_size=batch_size)


def builder(generator):
    def build(scenario):
        embedder = HashingEmbedder()
        chunks = chunk_documents(load_documents(scenario.corpus.paths), scenario.corpus.chunking)
        index = FlatIPIndex.from_vectors(embedder.embed([c.text for c in chunks], kind="passage"))
        pipeline = RagPipeline(embedder=embedder, index=index, chunks=chunks, generator=generator,
                               config=scenario.pipeline)
        return BenchComponents(pipeline=pipeline, scorer=AnswerScorer(embedder),
                               description={"generator": generator.describe()})

    return build


def read_items(folder: Path) -> list[ItemResult]:
    return [ItemResult.model_validate_json(line) for line in (folder / "items.jsonl").read_text().splitlines()]


def test_every_item_is_scored_and_written(tmp_path: Path, scenario) -> None:
    path, sc = scenario
    result = run_scenario(sc, path, tmp_path / "out", build=builder(CitingGenerator()), limit=10)
    assert result.complete and result.passed and result.n_scored == 10
    items = read_items(tmp_path / "out")
    assert [i.id for i in items][:3] == ["hb-01", "hb-02", "hb-03"]
    assert all(i.cited_doc_ids for i in items)


def test_an_interrupt_keeps_what_was_scored(tmp_path: Path, scenario) -> None:
    path, sc = scenario
    recorded = []
    with pytest.raises(KeyboardInterrupt):
        run_scenario(sc, path, tmp_path / "out", build=builder(FailingGenerator(ok=3, exc=KeyboardInterrupt())),
                     record=recorded.append)
    (partial,) = recorded
    assert partial.n_scored == 3 and not partial.complete and partial.aborted == "interrupted"
    assert partial.metrics["run.items_scored"] == 3
    assert len(read_items(tmp_path / "out")) == 3


def test_item_errors_are_recorded_and_the_run_goes_on(tmp_path: Path, scenario) -> None:
    path, sc = scenario
    result = run_scenario(sc, path, tmp_path / "out", build=builder(FailingGenerator(ok=2, exc=RuntimeError("CUDA OOM"))),
                          limit=5)
    assert result.n_scored == 5 and result.n_errors == 3 and result.complete
    assert result.metrics["run.error_rate"] == pytest.approx(0.6)
    assert not result.passed and not result.asserts[0].passed
    assert read_items(tmp_path / "out")[4].error == "RuntimeError: CUDA OOM"


def test_an_unreachable_backend_stops_the_scenario(tmp_path: Path, scenario) -> None:
    path, sc = scenario
    gen = FailingGenerator(ok=1, exc=unreachable("http://127.0.0.1:9/v1/chat/completions"))
    result = run_scenario(sc, path, tmp_path / "out", build=builder(gen))
    assert result.n_scored == 2 and gen.calls == 2
    assert "127.0.0.1:9" in result.aborted and not result.complete and not result.passed


def test_an_unexpected_exception_still_records_the_partial_result(tmp_path: Path, scenario) -> None:
    path, sc = scenario
    recorded = []
    with pytest.raises(ZeroDivisionError):
        run_scenario(sc, path, tmp_path / "out", build=builder(FailingGenerator(ok=2, exc=ZeroDivisionError())),
                     record=recorded.append)
    (partial,) = recorded
    assert partial.n_scored == 2 and partial.aborted == "unexpected error: ZeroDivisionError"
    assert not partial.passed and not partial.complete


def test_resuming_scores_only_what_is_missing(tmp_path: Path, scenario) -> None:
    path, sc = scenario
    with pytest.raises(KeyboardInterrupt):
        run_scenario(sc, path, tmp_path / "out", build=builder(FailingGenerator(ok=4, exc=KeyboardInterrupt())),
                     limit=10)
    gen = FailingGenerator(ok=100, exc=RuntimeError("never"))
    result = run_scenario(sc, path, tmp_path / "out", build=builder(gen), limit=10)
    assert result.complete and result.n_scored == 10
    assert gen.calls == 6, "the 4 items scored before the interrupt must not be scored again"
    assert sorted(i.id for i in read_items(tmp_path / "out")) == sorted({i.id for i in read_items(tmp_path / "out")})


def test_batches_score_like_single_items(tmp_path: Path, scenario) -> None:
    path, sc = scenario
    one = run_scenario(sc, path, tmp_path / "one", build=builder(CitingGenerator()), limit=9)
    many = run_scenario(sc, path, tmp_path / "many", build=builder(CitingGenerator()), limit=9, batch_size=4)
    timing_free = {k: v for k, v in one.metrics.items() if not k.startswith("latency.")}
    assert timing_free == {k: v for k, v in many.metrics.items() if not k.startswith("latency.")}
    assert [i.answer for i in read_items(tmp_path / "one")] == [i.answer for i in read_items(tmp_path / "many")]
