from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import ChunkingConfig
from harness.errors import ConfigError
from harness.pipeline.documents import chunk_document, chunk_documents, load_documents, Document


def test_ingests_md_txt_and_jsonl_with_stable_ids(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("# Title A\n\nBody of a.")
    (tmp_path / "b.txt").write_text("Plain text b.")
    (tmp_path / "c.jsonl").write_text('{"id": "c1", "text": "First row."}\n\n{"id": "c2", "text": "Second.", "title": "T"}\n')
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    docs = load_documents([tmp_path])
    assert [d.doc_id for d in docs] == ["b", "c1", "c2", "sub/a"]
    by_id = {d.doc_id: d for d in docs}
    assert by_id["sub/a"].title == "Title A"
    assert by_id["c2"].title == "T"
    assert by_id["c1"].source.endswith("c.jsonl:1")


@pytest.mark.parametrize(
    "content, expected",
    [
        ('{"id": "x", "text": "ok"}\n{"id": "y"}\n', "c.jsonl:2: field 'text'"),
        ('{"id": "x", "text": "ok"}\n{"id": "x", "text": "again"}\n', "duplicate document id 'x'"),
        ('{"id": "x", "text": "ok"\n', "c.jsonl:1: invalid JSON"),
        ('{"id": "x", "text": "ok", "metadata": [1]}\n', "field 'metadata'"),
    ],
)
def test_bad_jsonl_corpus_names_file_line_and_field(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "c.jsonl").write_text(content)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_documents([tmp_path / "c.jsonl"])


def test_missing_paths_unsupported_types_and_empty_corpora_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_documents([tmp_path / "nope"])
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(ConfigError, match="unsupported"):
        load_documents([tmp_path / "x.pdf"])
    with pytest.raises(ConfigError, match="no .md"):
        load_documents([tmp_path])


@pytest.mark.parametrize("size, overlap", [(64, 0), (200, 40), (800, 120), (1500, 300)])
def test_chunks_keep_exact_offsets_cover_the_text_and_overlap(repo: Path, size: int, overlap: int) -> None:
    cfg = ChunkingConfig(size=size, overlap=overlap)
    for doc in load_documents([repo / "golden_sets" / "demo_corpus"]):
        chunks = chunk_document(doc, cfg)
        assert chunks, doc.doc_id
        for c in chunks:
            assert doc.text[c.start:c.end] == c.text
            assert c.text == c.text.strip() and c.text
            assert len(c.text) <= size
            assert c.doc_id == doc.doc_id
        # Every non-space character belongs to some chunk.
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace()), doc.doc_id
        starts = [c.start for c in chunks]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        if overlap:
            for a, b in zip(chunks, chunks[1:]):
                assert b.start < a.end, "consecutive chunks should share text when overlap > 0"


def test_chunk_boundaries_prefer_paragraphs_and_sentences() -> None:
    text = ("First sentence is here. " * 10).strip() + "\n\n" + ("Second paragraph sentence. " * 10).strip()
    chunks = chunk_document(Document(doc_id="d", text=text, source="mem"), ChunkingConfig(size=300, overlap=0))
    assert chunks[0].text.endswith(".")
    assert chunk_documents([], ChunkingConfig()) == []


def test_a_word_longer_than_the_chunk_is_still_cut() -> None:
    doc = Document(doc_id="d", text="x" * 500, source="mem")
    chunks = chunk_document(doc, ChunkingConfig(size=100, overlap=10))
    assert "".join(c.text for c in chunks).count("x") >= 500
    assert all(doc.text[c.start:c.end] == c.text for c in chunks)
