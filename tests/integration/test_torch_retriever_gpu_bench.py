"""`rag-harden gpu`: roofline arithmetic, typed JSON, headline metrics in the catalogue, the streaming client
against a loopback server, the corpus generator's structure, the fused kernel under Triton's interpreter, and
the
CLI on the CPU (parts that need CUDA say "skipped: no CUDA")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bench.gpu.corpus import CorpusMaker, seed_stats, structure_stats
from bench.gpu.openai_stream import StubServer, stream_chat, summarize
from bench.gpu.results import Ceilings, compute_roofline, memory_roofline, result_from_json, tighter
from bench.gpu.retrieval import exact_roofline
from bench.gpu.run import headline_metrics, run_gpu_bench

REPO = Path(__file__).resolve().parents[2]  # tests/integration/ -> repo


def test_roofline_arithmetic() -> None:
    mem = memory_roofline(2e9, 1e12, 4.0, "copy bandwidth", "x")
    assert mem.ideal_ms == pytest.approx(2.0) and mem.fraction == pytest.approx(0.5)
    comp = compute_roofline(1e12, 1e15, 4.0, "fp16 matmul", "y")
    assert comp.ideal_ms == pytest.approx(1.0) and comp.fraction == pytest.approx(0.25)
    both = tighter(mem, comp)
    assert both.bound == "memory" and "not binding" in both.arithmetic and "2000.000 MB" in both.arithmetic
    ceilings = Ceilings("cuda", 3e12, "", {"fp16": 7e14}, {})
    # 1M x 384 fp16 at batch 1: 768 MB to read, 0.77 GFLOP -> memory bound at 0.256 ms.
    one = exact_roofline(1, 1_000_000, 384, 2, ceilings, "fp16", 0.386)
    assert one.bound == "memory" and one.ideal_ms == pytest.approx(0.256, rel=0.01)
    # batch 1024: 786 GFLOP -> compute bound at 1.12 ms.
    many = exact_roofline(1024, 1_000_000, 384, 2, ceilings, "fp16", 8.9)
    assert many.bound == "compute" and many.ideal_ms == pytest.approx(1.1235, rel=0.01)


def test_streaming_client_measures_ttft_tpot_and_itl_on_a_loopback_server() -> None:
    with StubServer(tokens=8, first_ms=40.0, every_ms=10.0) as stub:
        timings = [stream_chat(stub.url, "stub", "hi", 8) for _ in range(3)]
    t = timings[0]
    assert t.tokens == 8 and len(t.itl_ms) == 7
    assert t.ttft_ms >= 40.0 and t.ttft_ms < 40.0 + 500
    # The stub waits 10 ms between tokens; under load the OS may hand two chunks over at once (one gap near 0,
    # the next near 20 ms), so the gaps are checked in sum: they span at least the stub's 7 waits.
    assert sum(t.itl_ms) >= 7 * 9.0 and all(gap >= 0.0 for gap in t.itl_ms)
    st = summarize(timings)
    assert 9.0 <= st["tpot_p50_ms"] < 60.0 and st["requests"] == 3


def test_the_corpus_is_clustered_like_real_embeddings_not_uniform() -> None:
    maker = CorpusMaker(384)
    corpus, queries = maker.draw(5000, stream=0), maker.draw(100, stream=1)
    assert torch.allclose(corpus.norm(dim=1), torch.ones(5000), atol=1e-4)
    stats = structure_stats(corpus, queries)
    uniform = torch.nn.functional.normalize(torch.randn(5000, 384), dim=1)
    baseline = structure_stats(uniform, torch.nn.functional.normalize(torch.randn(100, 384), dim=1))
    seed = seed_stats()
    # Real MiniLM rows concentrate variance in few directions; uniform random vectors do not.
    assert stats["top10_pc_variance_share"] > 0.25 > 0.1 > baseline["top10_pc_variance_share"]
    assert seed["top10_pc_variance_share"] > 0.25
    assert stats["nn1_cos_mean"] > 0.5 > 0.3 > baseline["nn1_cos_mean"]
    assert not torch.equal(maker.draw(10, stream=1), corpus[:10])  # queries are not corpus rows


def test_headline_metrics_are_catalogue_metrics(tmp_path: Path) -> None:
    from harness.config import load_scenario
    from harness.metrics import available_metrics

    result = run_gpu_bench(quick=True, parts=["openai"])
    metrics = headline_metrics(result)
    assert metrics["gpu.copy_gbps"] > 0 and metrics["gpu.openai_ttft_p50_ms"] > 0
    path = tmp_path / "s.yaml"
    path.write_text(
        f"corpus: {{paths: ['{REPO}/golden_sets/demo_corpus']}}\n"
        f"golden_set: '{REPO}/golden_sets/demo_golden.jsonl'\n"
        "gpu: {quick: true, parts: [openai]}\n"
        "asserts: [{metric: gpu.openai_ttft_p50_ms, max: 5000}]\n"
    )
    known = available_metrics(load_scenario(path))
    assert set(metrics) <= set(known)
    for name in ("gpu.search_b1_ms", "gpu.search_b1024_roofline", "gpu.decode_step_ms", "gpu.embed_roofline"):
        assert name in known
    # JSON round trip keeps every row and its roofline.
    again = result_from_json(result.to_json())
    assert again.env == result.env and len(again.rows()) == len(result.rows())


def test_cli_on_the_cpu_writes_rows_and_says_what_needs_cuda(tmp_path: Path) -> None:
    from harness.cli import app

    out = tmp_path / "res"
    r = CliRunner().invoke(app, ["gpu", "--quick", "--out", str(out), "--parts", "generation,openai,vllm"])
    assert r.exit_code == 0, r.output
    data = json.loads(next(out.glob("*.json")).read_text())
    assert data["env"]["torch"] == torch.__version__ and data["env"]["date"]
    assert data["ceilings"]["copy_bytes_per_s"] > 0
    rows = [row for p in data["parts"] for row in p["rows"]]
    ok = [row for row in rows if row["status"] == "ok"]
    assert {row["name"] for row in ok} >= {"generate", "generate-static", "static-loop", "loopback-stub"}
    assert all(row["roofline"]["arithmetic"] for row in ok)
    if not torch.cuda.is_available():
        skipped = {row["name"]: row["reason"] for row in rows if row["status"] == "skipped"}
        assert skipped["static-cuda-graph"] == "skipped: no CUDA"
        vllm = next(p for p in data["parts"] if p["name"] == "vllm")
        assert vllm["status"] == "skipped"
    assert "gpu.decode_step_ms" in r.output


@pytest.mark.slow
def test_quick_run_has_every_part(tmp_path: Path) -> None:
    from harness.cli import app

    r = CliRunner().invoke(app, ["gpu", "--quick", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    data = json.loads(next(tmp_path.glob("*.json")).read_text())
    names = {p["name"]: p for p in data["parts"]}
    assert set(names) == {"ceilings", "retrieval", "embedding", "generation", "openai", "vllm"}
    retrieval = [r for r in names["retrieval"]["rows"] if r["status"] == "ok"]
    assert {r["name"] for r in retrieval} >= {
        "torch-topk",
        "torch-grouped",
        "faiss-flat",
        "faiss-hnsw",
        "faiss-ivf",
    }
    exact = [r for r in retrieval if r["name"].startswith("torch")]
    assert all(r["metrics"]["recall@10"] > 0.99 for r in exact)
    if not torch.cuda.is_available():
        fused = [r for r in names["retrieval"]["rows"] if r["name"] == "triton-fused"]
        assert fused and all(r["reason"] == "skipped: no CUDA" for r in fused)


FUSED_CHECK = """
import os, numpy as np, torch
from bench.gpu.fused_topk import fused_topk
from harness.torch_search import exact_topk
rng = np.random.default_rng(0)
for n, d, b, k in [(1500, 64, 5, 10), (700, 32, 20, 5), (9, 32, 2, 10)]:
    x = rng.standard_normal((n, d)).astype(np.float32); x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = rng.standard_normal((b, d)).astype(np.float32)
    s, i = fused_topk(torch.from_numpy(q), torch.from_numpy(x), k)
    es, ei = exact_topk(torch.from_numpy(q), torch.from_numpy(x), k)
    assert (i == ei).all(), (n, d, b, k)
    assert torch.allclose(s[~torch.isinf(s)], es[~torch.isinf(es)], atol=1e-5)
print("ok")
"""


def test_fused_kernel_equals_exact_search_under_the_triton_interpreter() -> None:
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    out = subprocess.run(
        [sys.executable, "-c", FUSED_CHECK], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr[-2000:]


def test_recall_is_measured_against_exact_search() -> None:
    from bench.gpu.retrieval import recall_at_k

    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    assert recall_at_k(truth, truth) == 1.0
    assert recall_at_k(np.array([[1, 2, 9, 9], [5, 6, 7, 8]]), truth) == pytest.approx(6 / 8)


def test_embedder_batches_by_length_and_keeps_the_input_order(minilm) -> None:
    from harness.pipeline.embedders import resolve_dtype

    texts = [
        "short",
        "a much longer passage about the travel policy and its hotel caps in Berlin " * 3,
        "mid size text",
        "x",
    ]
    small = minilm.config.model_copy(update={"batch_size": 2})
    minilm.config, original = small, minilm.config
    try:
        together = minilm.embed(texts, kind="passage")
    finally:
        minilm.config = original
    one_by_one = np.vstack([minilm.embed([t], kind="passage") for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert resolve_dtype("auto", "cpu") == "fp32" and resolve_dtype("auto", "cuda") == "fp16"
    assert "dtype" not in minilm.fingerprint()  # fp32 indexes keep the content hash they had before
