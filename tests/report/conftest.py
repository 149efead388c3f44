"""Two real runs of the default scenario (extractive generator, a few items) shared by the report tests: the
baseline and its closed-book copy (questions sent without passages), the degraded run ``compare``
must catch."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from tests.conftest import scenario_variant

LIMIT = 6


def _bench(path: Path, out: Path) -> Path:
    result = CliRunner().invoke(app, ["bench", str(path), "--out-dir", str(out), "--limit", str(LIMIT)])
    assert result.exit_code in (0, 1), result.output
    (run_dir,) = list(out.iterdir())
    return run_dir


@pytest.fixture(scope="session")
def baseline_run(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> Path:
    tmp = tmp_path_factory.mktemp("report-base")
    path = scenario_variant(repo, tmp, name="demo", changes={"pipeline.generator": {"backend": "extractive"}})
    return _bench(path, tmp / "runs")


@pytest.fixture(scope="session")
def closed_book_run(tmp_path_factory: pytest.TempPathFactory, repo: Path) -> Path:
    """The closed-book copy (the prompt, and so the extractive generator, sees no passage: it declines)."""
    tmp = tmp_path_factory.mktemp("report-closed")
    changes = {"pipeline.generator": {"backend": "extractive"}, "pipeline.prompt.closed_book": True}
    path = scenario_variant(repo, tmp, name="demo", changes=changes)
    return _bench(path, tmp / "runs")
