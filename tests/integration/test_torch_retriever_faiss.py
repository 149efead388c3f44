"""The torch retriever on real MiniLM embeddings of the demo corpus: the same top-10 as faiss IndexFlatIP, the
same persistence rules (content hash, staleness, the manifest naming the loader), the same retrieval
metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.config import ChunkingConfig, load_scenario
from harness.pipeline.retrievers.faiss_flat import FaissRetrieverConfig
from harness.pipeline.retrievers.torch_exact import TorchRetrieverConfig
from harness.eval.retrieval import metric_ks, retrieval_scores
from harness.flow import score_scenario
from harness.golden import load_golden_set
from harness.pipeline.documents import chunk_documents, load_documents
from harness.pipeline.index_store import open_index
from harness.pipeline.retrievers import RETRIEVERS
from tests.fakes import CountingEmbedder, HashingEmbedder


@pytest.fixture(scope="module")
def demo(repo: Path, minilm):
    chunks = chunk_documents(load_documents([repo / "golden_sets" / "demo_corpus"]), ChunkingConfig())
    vectors = minilm.embed([c.text for c in chunks], kind="passage")
    questions = [e.user_input for e in load_golden_set(repo / "golden_sets" / "demo_golden.jsonl")]
    return chunks, vectors, minilm.embed(questions, kind="query")


def same_up_to_ties(a_ids, b_ids, scores, atol=1e-5) -> bool:
    """Equal lists, except where the two differ only between rows whose scores tie."""
    for a, b, s in zip(a_ids, b_ids, scores, strict=True):
        if list(a) != list(b) and not np.allclose(
            s[[list(a).index(x) for x in a if x not in b] or [0]], s[-1], atol=atol
        ):
            return False
    return True


def test_torch_on_cpu_returns_faiss_flat_top_10(demo) -> None:
    chunks, vectors, queries = demo
    faiss_index = RETRIEVERS.build(FaissRetrieverConfig()).build(vectors)
    torch_index = RETRIEVERS.build(TorchRetrieverConfig(device="cpu", chunk_rows=1024)).build(vectors)
    f_scores, f_ids = faiss_index.search(queries, 10)
    t_scores, t_ids = torch_index.search(queries, 10)
    assert len(chunks) > 10 and queries.shape[0] >= 20
    assert same_up_to_ties(t_ids, f_ids, t_scores)
    assert (t_ids == f_ids).mean() > 0.99
    np.testing.assert_allclose(t_scores, f_scores, atol=1e-5)


def test_persisted_like_faiss_and_the_manifest_names_the_loader(tmp_path: Path, repo: Path) -> None:
    chunks = chunk_documents(load_documents([repo / "golden_sets" / "demo_corpus"]), ChunkingConfig())[:40]
    folder = tmp_path / "index"
    embedder = CountingEmbedder(HashingEmbedder())  # persistence is what is tested here: a protocol-seam fake
    cfg = TorchRetrieverConfig(device="cpu")
    index, status = open_index(folder, chunks, embedder, cfg)
    assert status.action == "built" and {p.name for p in folder.iterdir()} == {
        "vectors.npy",
        "chunks.jsonl",
        "manifest.json",
    }
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["backend"] == "torch" and manifest["index"] == "torch-exact-ip"
    # Another search dtype is a search setting: loaded, nothing re-embedded.
    reloaded, status = open_index(folder, chunks, embedder, cfg.model_copy(update={"dtype": "bf16"}))
    assert status.action == "loaded" and embedder.texts_embedded == len(chunks)
    query = embedder.embed([chunks[3].text], kind="query")
    assert index.search(query, 1)[1][0, 0] == reloaded.search(query, 1)[1][0, 0] == 3
    # The faiss backend does not read a torch folder: a different index kind, so it is rebuilt.
    _, status = open_index(folder, chunks, embedder, FaissRetrieverConfig())
    assert status.action == "rebuilt" and "stale" in status.reason
    assert json.loads((folder / "manifest.json").read_text())["backend"] == "faiss"
    # A changed corpus is stale for torch too.
    _, status = open_index(folder, chunks, embedder, cfg)
    _, status = open_index(folder, chunks[:-1], embedder, cfg)
    assert status.action == "rebuilt" and "stale" in status.reason


def _retrieval_metrics(tmp_path: Path, repo: Path, minilm, demo, cfg, name: str) -> dict[str, float]:
    """The scenario's retrieval metrics (harness.eval.retrieval, as bench computes them) over its golden
    set, with its own retriever config, on the real MiniLM vectors."""
    chunks, vectors, queries = demo
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"corpus: {{paths: ['{repo}/golden_sets/demo_corpus']}}\n"
        f"golden_set: '{repo}/golden_sets/demo_golden.jsonl'\n"
        f"pipeline: {{retriever: {json.dumps(cfg.model_dump(exclude_none=True))}, "
        "generator: {backend: extractive}}\n"
    )
    sc = load_scenario(path)
    index = RETRIEVERS.build(sc.pipeline.retriever).build(vectors)
    examples = load_golden_set(sc.golden_set)
    ks = metric_ks(sc.pipeline.retriever.top_k)
    _, ids = index.search(queries, sc.pipeline.retriever.top_k)
    per_item = [
        retrieval_scores([chunks[i].doc_id for i in row], e.reference_doc_ids, ks)
        for row, e in zip(ids, examples, strict=True)
        if e.reference_doc_ids
    ]
    return {k: float(np.mean([s[k] for s in per_item])) for k in per_item[0]}


def test_a_torch_scenario_scores_the_retrieval_metrics_of_faiss(
    tmp_path: Path, repo: Path, minilm, demo
) -> None:
    faiss_metrics = _retrieval_metrics(tmp_path, repo, minilm, demo, FaissRetrieverConfig(top_k=5), "faiss")
    torch_metrics = _retrieval_metrics(tmp_path, repo, minilm, demo, TorchRetrieverConfig(top_k=5), "torch")
    assert faiss_metrics and faiss_metrics == torch_metrics
    assert faiss_metrics["recall@5"] > 0.5  # a real retrieval, not an empty one


@pytest.mark.slow
def test_bench_with_a_torch_retriever_matches_faiss_end_to_end(tmp_path: Path, repo: Path) -> None:
    """The whole composed pipeline (index persisted under the cache, extractive generator), both backends."""
    from harness.compose import build_components

    metrics = {}
    for backend in ("faiss", "torch"):
        path = tmp_path / f"{backend}.yaml"
        path.write_text(
            f"name: e2e-{backend}\ncorpus: {{paths: ['{repo}/golden_sets/demo_corpus']}}\n"
            f"golden_set: '{repo}/golden_sets/demo_golden.jsonl'\n"
            f"pipeline: {{retriever: {{backend: {backend}, top_k: 5}}, generator: {{backend: extractive}}}}\n"
            "report: {redact_pii: false}\n"
        )
        sc = load_scenario(path)
        result = score_scenario(sc, path, tmp_path / backend, build_components(sc, log=lambda _m: None))
        metrics[backend] = {k: v for k, v in result.metrics.items() if k.startswith("retrieval.")}
    assert metrics["faiss"] == metrics["torch"]
