"""Bad input gets a clear error naming file, line and field, never a traceback (issue 10's reproductions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.config import load_scenario
from harness.errors import ConfigError
from harness.golden import load_golden_set
from harness.jsonl import iter_jsonl

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "golden_sets" / "demo_corpus"
GOLDEN = REPO / "golden_sets" / "demo_golden.jsonl"


def _scenario(tmp_path: Path, body: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_a_duplicate_key_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    path = _scenario(tmp_path, f"corpus: {{paths: ['{CORPUS}']}}\ngolden_set: '{GOLDEN}'\n"
                               "asserts:\n  - {metric: run.error_rate, max: 0}\n"
                               "asserts:\n  - {metric: retrieval.hit@5, min: 0.1}\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert f"{path}:5: field 'asserts': duplicate key (first given on line 3)" in str(info.value)


def test_a_nested_duplicate_key_is_found_too(tmp_path: Path) -> None:
    path = _scenario(tmp_path, f"corpus: {{paths: ['{CORPUS}']}}\ngolden_set: '{GOLDEN}'\n"
                               "pipeline:\n  retriever: {top_k: 3}\n  retriever: {top_k: 5}\n")
    with pytest.raises(ConfigError, match=r"s\.yaml:5: field 'pipeline\.retriever': duplicate key"):
        load_scenario(path)


def test_a_discriminated_union_error_names_the_field_as_written(tmp_path: Path) -> None:
    path = _scenario(tmp_path, f"corpus: {{paths: ['{CORPUS}']}}\ngolden_set: '{GOLDEN}'\n"
                               "pipeline:\n  retriever: {backend: faiss, top_k: 0}\n")
    with pytest.raises(ConfigError, match=r"s\.yaml:4: field 'pipeline\.retriever\.top_k'"):
        load_scenario(path)


def test_a_golden_set_that_is_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, expected a JSONL file"):
        load_golden_set(REPO / "golden_sets")


def test_a_scenario_without_a_name_gets_one_from_a_file_name_with_spaces(tmp_path: Path) -> None:
    path = _scenario(tmp_path, f"corpus: {{paths: ['{CORPUS}']}}\ngolden_set: '{GOLDEN}'\n", name="my first run.yaml")
    assert load_scenario(path).name == "my-first-run"


def test_jsonl_is_split_on_newlines_only_and_a_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    row = {"id": "a", "text": "line\u2028separator\u0085next\u2029para"}
    path.write_text("\ufeff" + json.dumps(row, ensure_ascii=False) + "\r\n\n" + json.dumps({"id": "b"}) + "\n",
                    encoding="utf-8")
    rows = list(iter_jsonl(path))
    assert [(n, r["id"]) for n, r in rows] == [(1, "a"), (3, "b")]
    assert rows[0][1]["text"] == row["text"]


def test_a_whitespace_only_corpus_is_exit_2_with_a_message(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("  \n\n\t ")
    (corpus / "b.txt").write_text(" ")
    path = _scenario(tmp_path, f"corpus: {{paths: ['{corpus}']}}\ngolden_set: '{GOLDEN}'\n"
                               "pipeline: {generator: {backend: extractive}}\n")
    result = CliRunner().invoke(app, ["index", "build", str(path)])
    assert result.exit_code == 2, result.output
    assert "empty or whitespace only" in result.output and "Traceback" not in result.output


def test_errors_are_not_wrapped_when_piped(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 4)
    deep.mkdir()
    path = _scenario(deep, f"corpus: {{paths: ['{CORPUS}']}}\ngolden_set: '{GOLDEN}'\n"
                           "pipeline:\n  retriever: {backend: faiss, top_k: 0}\n")
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "index", "build", str(path)], capture_output=True,
                          text=True, timeout=120, env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    line = next(ln for ln in proc.stderr.splitlines() if "top_k" in ln)
    assert f"{path}:4: field 'pipeline.retriever.top_k'" in line, proc.stderr
