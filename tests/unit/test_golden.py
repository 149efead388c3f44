from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.golden import load_golden_set
from harness.pipeline.documents import load_documents


def test_demo_golden_set_meets_its_promises(repo: Path) -> None:
    items = load_golden_set(repo / "golden_sets" / "demo_golden.jsonl")
    assert len(items) >= 50
    unanswerable = [i for i in items if not i.answerable]
    assert len(unanswerable) >= 10
    answerable = [i for i in items if i.answerable]
    assert all(i.reference and i.reference_doc_ids for i in answerable)
    doc_ids = {d.doc_id for d in load_documents([repo / "golden_sets" / "demo_corpus"])}
    assert 30 <= len(doc_ids) <= 60
    missing = {d for i in answerable for d in i.reference_doc_ids} - doc_ids
    assert not missing, f"golden items cite documents that do not exist: {missing}"
    assert len({i.user_input.lower() for i in items}) == len(items), "duplicate questions"


def test_halueval_golden_set_points_at_its_corpus(repo: Path) -> None:
    items = load_golden_set(repo / "golden_sets" / "halueval_qa.jsonl")
    docs = {d.doc_id: d for d in load_documents([repo / "golden_sets" / "halueval" / "corpus.jsonl"])}
    assert len(items) == len(docs) == 201
    for item in items:
        (doc_id,) = item.reference_doc_ids
        assert docs[doc_id].text == item.reference_contexts[0]
        assert item.metadata["hallucinated_answer"]


def test_planted_pii_values_are_in_their_documents(repo: Path) -> None:
    docs = {d.doc_id: d.text for d in load_documents([repo / "golden_sets" / "demo_corpus"])}
    rows = [json.loads(line) for line in (repo / "golden_sets" / "demo_planted_pii.jsonl").read_text().splitlines()]
    assert {r["entity_type"] for r in rows} >= {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE",
                                                 "EMPLOYEE_ID"}
    for row in rows:
        assert row["value"] in docs[row["doc_id"]]


def write_lines(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "g.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "lines, expected",
    [
        (['{"user_input": "q", "reference": "r"}', '{"user_input": "q2", "reference": '], ":2: invalid JSON"),
        (['{"reference": "r"}'], ":1: field 'user_input'"),
        (['{"user_input": "q", "reference": "r", "anwserable": false}'], ":1: field 'anwserable'"),
        (['{"user_input": "q"}'], ":1: field '<item>': Value error, an answerable item needs"),
        (['{"id": "a", "user_input": "q", "reference": "r"}', '', '{"id": "a", "user_input": "q2", "reference": "r"}'],
         ":3: field 'id': duplicate id 'a' (first on line 1)"),
        (['["not", "an", "object"]'], ":1: expected a JSON object"),
        (['{"user_input": "q", "reference": "r", "reference_doc_ids": "policies/travel"}'], ":1: field 'reference_doc_ids'"),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path: Path, lines: list[str], expected: str) -> None:
    path = write_lines(tmp_path, *lines)
    with pytest.raises(ConfigError) as info:
        load_golden_set(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_unanswerable_items_need_no_reference_and_ids_default_to_lines(tmp_path: Path) -> None:
    items = load_golden_set(write_lines(tmp_path, '{"user_input": "q", "reference": "r"}', "",
                                        '{"user_input": "who?", "answerable": false}'))
    assert [i.id for i in items] == ["line-1", "line-3"]
    assert items[1].answerable is False


def test_empty_and_binary_files_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no items"):
        load_golden_set(write_lines(tmp_path, ""))
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_golden_set(binary)
