"""`rag-harden ask` takes its question from the argument, stdin (`-`) or --file, up to 1 MB, and says clearly
(exit 2) when it is too big, not UTF-8, empty, or given twice. Issue 10, ask: a 1 MB question could not be
passed at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import MAX_QUESTION_BYTES, app

runner = CliRunner()
QUESTION = "How many days of annual leave do full-time employees get?"


@pytest.fixture
def scenario(tmp_path: Path, repo: Path) -> Path:
    path = tmp_path / "ask.yaml"
    path.write_text(f"name: demo\n"  # reuses the session's demo-corpus index
                    f"corpus: {{paths: [{repo / 'golden_sets' / 'demo_corpus'}]}}\n"
                    f"golden_set: {repo / 'golden_sets' / 'demo_golden.jsonl'}\n"
                    f"pipeline: {{generator: {{backend: extractive}}}}\n")
    return path


def test_stdin_and_file_are_read_and_decoded(tmp_path: Path) -> None:
    from harness.cli import _question_from

    with runner.isolation(input=QUESTION.encode()):
        assert _question_from("-", None) == QUESTION
    path = tmp_path / "q.txt"
    path.write_bytes(b"\xef\xbb\xbf" + QUESTION.encode())  # a byte order mark is dropped
    assert _question_from(None, path) == QUESTION
    assert _question_from(QUESTION, None) == QUESTION


@pytest.mark.slow  # builds the MiniLM pipeline
def test_question_from_stdin(scenario: Path) -> None:
    result = runner.invoke(app, ["ask", str(scenario), "-", "--json"], input=QUESTION)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["question"] == QUESTION and "25 days" in answer["answer"]


@pytest.mark.slow  # builds the MiniLM pipeline
def test_a_question_of_almost_1_mb_from_a_file(scenario: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    filler = "Background: " + "the travel and leave policies of the company apply to every office. " * 15_000
    big.write_text((filler[: MAX_QUESTION_BYTES - 200] + " " + QUESTION)[:MAX_QUESTION_BYTES])
    assert 990_000 < big.stat().st_size <= MAX_QUESTION_BYTES
    result = runner.invoke(app, ["ask", str(scenario), "--file", str(big), "--json"])
    assert result.exit_code == 0, result.output[-2000:]
    assert len(json.loads(result.stdout)["question"]) == big.stat().st_size


def test_over_1_mb_is_a_clear_error_from_a_file_and_from_stdin(scenario: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"secret-marker " * (MAX_QUESTION_BYTES // 14 + 1))
    from_file = runner.invoke(app, ["ask", str(scenario), "--file", str(big)])
    from_stdin = runner.invoke(app, ["ask", str(scenario), "-"], input=big.read_text())
    for result, source in ((from_file, str(big)), (from_stdin, "stdin")):
        assert result.exit_code == 2
        assert f"{source}: the question is over 1,000,000 bytes" in " ".join(result.output.split())
        assert "secret-marker" not in result.output


@pytest.mark.parametrize("data,message", [(b"caf\xe9 au lait?", "not valid UTF-8 (byte 3)"),
                                          (b"  \n\t ", "the question is empty")])
def test_bad_question_files(scenario: Path, tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "q.txt"
    path.write_bytes(data)
    result = runner.invoke(app, ["ask", str(scenario), "--file", str(path)])
    assert result.exit_code == 2 and message in " ".join(result.output.split())


@pytest.mark.parametrize("args,message", [
    ([], "give the question as an argument, `-` to read it from stdin, or --file PATH"),
    (["q", "--file", "q.txt"], "give the question as an argument"),
    (["--file", "missing.txt"], "missing.txt: cannot read the question"),
    (["\udcff\udcfe"], "the question argument: the question is not valid UTF-8 (byte 0)"),
    (["\ud800"], "the question argument: the question is not valid Unicode"),
])
def test_argument_errors(scenario: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["ask", str(scenario), *args])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
