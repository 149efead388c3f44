"""The persisted faiss index with the real MiniLM embedder: build, reload without re-embedding, rebuild when stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.config import ChunkingConfig
from harness.pipeline.retrievers.faiss_flat import FaissRetrieverConfig
from harness.pipeline.documents import chunk_documents, load_documents
from harness.pipeline.index_store import open_index
from tests.fakes import CountingEmbedder


@pytest.fixture()
def corpus(tmp_path: Path, repo: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(repo / "golden_sets" / "demo_corpus" / "policies", folder)
    return folder


def chunks_of(folder: Path):
    return chunk_documents(load_documents([folder]), ChunkingConfig(size=500, overlap=80))


def test_build_reload_and_stale_rebuild(tmp_path: Path, corpus: Path, minilm) -> None:
    index_dir = tmp_path / "index"
    cfg = FaissRetrieverConfig()
    messages: list[str] = []
    embedder = CountingEmbedder(minilm)
    chunks = chunks_of(corpus)

    index, status = open_index(index_dir, chunks, embedder, cfg, log=messages.append)
    assert status.action == "built" and index.size == len(chunks)
    assert embedder.texts_embedded == len(chunks)
    assert {p.name for p in index_dir.iterdir()} == {"index.faiss", "chunks.jsonl", "manifest.json"}

    # Same corpus, same embedder: loaded from disk, nothing re-embedded, same search results.
    reloaded, status = open_index(index_dir, chunks, embedder, cfg, log=messages.append)
    assert status.action == "loaded"
    assert embedder.texts_embedded == len(chunks)
    query = minilm.embed(["hotel cap in Berlin"], kind="query")
    assert (index.search(query, 3)[1] == reloaded.search(query, 3)[1]).all()
    top = chunks[int(reloaded.search(query, 1)[1][0, 0])]
    assert top.doc_id == "travel"
    assert messages == []

    # The corpus changes: the stored index is stale and is rebuilt, with a message.
    (corpus / "travel.md").write_text((corpus / "travel.md").read_text().replace("180 EUR", "195 EUR"))
    changed = chunks_of(corpus)
    _, status = open_index(index_dir, changed, embedder, cfg, log=messages.append)
    assert status.action == "rebuilt" and "stale" in status.reason
    assert any("stale" in m for m in messages)
    assert embedder.texts_embedded == 2 * len(chunks)

    # --force rebuilds a current index.
    _, status = open_index(index_dir, changed, embedder, cfg, force=True)
    assert status.action == "rebuilt" and status.reason == "--force"


def test_a_corrupt_index_file_is_rebuilt(tmp_path: Path, corpus: Path, minilm) -> None:
    index_dir = tmp_path / "index"
    chunks = chunks_of(corpus)
    open_index(index_dir, chunks, minilm, FaissRetrieverConfig())
    (index_dir / "index.faiss").write_bytes(b"garbage")
    messages: list[str] = []
    index, status = open_index(index_dir, chunks, minilm, FaissRetrieverConfig(), log=messages.append)
    assert index.size == len(chunks)
    assert status.action == "rebuilt"
    assert any("unreadable" in m for m in messages)
