"""The reference pipeline served over HTTP (harness.serve.create_app on 127.0.0.1) and benched as an `http`
target scores the same as the same pipeline benched in process: retrieval, answers, groundedness, abstention."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import ServeConfig
from harness.flow import score_scenario
from harness.runner import BenchComponents
from harness.serve import create_app
from tests.fakes import LoopbackServer
from tests.targets.helpers import extractive_pipeline, load, target_parts, write_scenario

COMPARED = ("retrieval.", "answer.", "groundedness.", "hallucination.", "abstention.")

SERVED_TARGET = {
    "kind": "http", "body": {"question": "{question}", "top_k": "{top_k}", "include_text": True},
    "paths": {"answer": "answer", "contexts": "passages[*].text", "doc_ids": "passages[*].doc_id",
              "citations": "citations[*].doc_id", "blocked": "blocked"},
    "max_concurrency": 3,
}


def _compared(metrics: dict[str, float | None]) -> dict[str, float | None]:
    return {k: (None if v is None else round(v, 3)) for k, v in metrics.items() if k.startswith(COMPARED)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, scorers, mixed_golden: Path):
    folder = tmp_path_factory.mktemp("e2e")
    path = write_scenario(folder, "inproc", pipeline={"generator": {"backend": "extractive"}}, golden=mixed_golden)
    scenario = load(path)
    pipeline = extractive_pipeline(scenario.corpus.paths, scorers["embedder"], scenario.corpus.chunking)
    parts = BenchComponents(pipeline=pipeline, scorer=scorers["scorer"], groundedness=scorers["groundedness"])
    result = score_scenario(scenario, path, folder / "inproc", parts)
    return folder, pipeline, result


def test_served_pipeline_as_http_target_scores_like_in_process(reference, scorers, mixed_golden: Path) -> None:
    folder, pipeline, inproc = reference
    with LoopbackServer(create_app(ServeConfig(max_concurrency=3), lambda: pipeline,
                                   load_in_background=False)) as url:
        path = write_scenario(folder, "served", target={**SERVED_TARGET, "url": f"{url}/v1/query"},
                              golden=mixed_golden, asserts=[{"metric": "retrieval.recall@5", "min": 0.0}])
        scenario = load(path)
        assert scenario.pipeline.batch_size == 3  # requests in flight come from the target
        served = score_scenario(scenario, path, folder / "served", target_parts(scenario, scorers),
                                batch_size=scenario.pipeline.batch_size)
    assert served.complete and served.n_errors == 0 and served.passed
    expected, got = _compared(inproc.metrics), _compared(served.metrics)
    assert expected == got
    # the comparison covered real numbers of every kind, not a pile of Nones
    for name in ("retrieval.recall@5", "retrieval.mrr", "answer.rouge_l", "groundedness.faithfulness_mean",
                 "abstention.unanswerable_declined_rate"):
        assert got[name] is not None, name
    assert 0 < got["retrieval.mrr"] <= 1  # type: ignore[operator]
    assert served.metrics["latency.total.p50_ms"] > 0  # type: ignore[operator]
    # no stage times come back from /v1/query: reported as not available, with the reason
    assert served.metrics["latency.embed.p50_ms"] is None
    assert "Server-Timing" in served.unavailable["latency.embed.p50_ms"]
