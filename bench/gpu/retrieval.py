"""Retrieval benchmarks: exact top-10 with torch (matmul + topk, matmul + grouped top-k, the fused Triton
kernel), faiss-cpu Flat / HNSW / IVF on the host, faiss-gpu where installed. Latency p50/p95 per query batch,
queries per second, recall@10 against exact fp32 search, each with its roofline.

Roofline of an exact search of ``b`` queries over ``n x d`` rows: it must read the corpus once
(``n * d * bytes``, memory bound) and do ``2 * b * n * d`` FLOPs (compute bound); the larger of the two ideal
times
binds. ANN indexes (HNSW, IVF) do less work than that by design: their roofline is the exact search's, so a
fraction above 1 means faster than any exact search could be (at the recall shown).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch

from bench.gpu.corpus import CorpusMaker, CorpusSpec
from bench.gpu.results import Ceilings, Part, Roofline, Row, compute_roofline, memory_roofline, tighter
from bench.gpu.timing import stats, time_calls
from harness.torch_search import DTYPES, exact_topk

K = 10


@dataclass(frozen=True)
class RetrievalPlan:
    sizes: tuple[int, ...]
    dims: tuple[int, ...]
    batches: tuple[int, ...]
    dtypes: tuple[str, ...]
    methods: tuple[str, ...]  # torch-topk, torch-grouped, triton-fused
    host_sizes: tuple[int, ...]  # corpus sizes for faiss-cpu (dimension: the first of dims)
    host_indexes: tuple[str, ...]
    reps: int
    budget_s: float  # per configuration


def exact_roofline(
    b: int, n: int, d: int, elem_bytes: int, ceilings: Ceilings, dtype: str, ms: float
) -> Roofline:
    rate, rate_name = ceilings.matmul(dtype)
    mem = memory_roofline(
        n * d * elem_bytes + b * d * elem_bytes,
        ceilings.bandwidth(),
        ms,
        "copy bandwidth",
        f"corpus {n}x{d}x{elem_bytes} B + queries",
    )
    comp = compute_roofline(2.0 * b * n * d, rate, ms, rate_name, f"2 x {b} x {n} x {d}")
    return tighter(mem, comp)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def _row(
    name: str,
    params: dict[str, Any],
    samples: list[float],
    b: int,
    recall: float | None,
    roofline: Roofline | None,
) -> Row:
    metrics = stats(samples)
    metrics["qps"] = b / (metrics["p50_ms"] / 1e3)
    if recall is not None:
        metrics["recall@10"] = recall
    return Row("retrieval", name, params, metrics, roofline)


def _torch_method(method: str) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    if method == "torch-topk":
        return lambda q, x: exact_topk(q, x, K, method="topk")
    if method == "torch-grouped":
        return lambda q, x: exact_topk(q, x, K, method="grouped")
    from bench.gpu.fused_topk import fused_topk

    return lambda q, x: fused_topk(q, x, K)


def run_retrieval(
    plan: RetrievalPlan,
    device: torch.device,
    ceilings: Ceilings,
    log: Callable[[str], None],
    spec: CorpusSpec = CorpusSpec(),
    host_ceilings: Ceilings | None = None,
) -> Part:
    """Every configuration of ``plan``; faiss-cpu rows are held against ``host_ceilings`` (the CPU's own)."""
    started = time.perf_counter()
    part = Part("retrieval", "ok")
    cuda = device.type == "cuda"
    triton_ok = False
    if "triton-fused" in plan.methods:
        from bench.gpu.fused_topk import triton_available

        triton_ok = cuda and triton_available()
    for d in plan.dims:
        maker = CorpusMaker(d, spec, device=device)
        queries32 = maker.draw(max(plan.batches), stream=1)
        for n in plan.sizes:
            corpus32 = maker.draw(n, stream=0)
            truth = exact_topk(queries32, corpus32, K)[1].cpu().numpy()  # fp32 exact: the reference
            if d == plan.dims[0] and n == plan.sizes[-1]:
                from bench.gpu.corpus import seed_stats, structure_stats

                part.notes.append(
                    f"corpus {n}x{d}: {structure_stats(corpus32, queries32[:256])}; real seed: {seed_stats()}"
                )
            for dtype in plan.dtypes:
                corpus = corpus32.to(DTYPES[dtype])
                elem = corpus.element_size()
                for method in plan.methods:
                    if method == "triton-fused" and not triton_ok:
                        part.rows.append(
                            Row(
                                "retrieval",
                                method,
                                {"n": n, "dim": d, "dtype": dtype},
                                status="skipped",
                                reason="skipped: no CUDA" if not cuda else "skipped: triton not installed",
                            )
                        )
                        continue
                    fn = _torch_method(method)
                    for b in plan.batches:
                        q = queries32[:b].to(DTYPES[dtype]).contiguous()
                        params = {"n": n, "dim": d, "batch": b, "dtype": dtype, "device": str(device)}
                        try:
                            with torch.inference_mode():
                                ids = fn(q, corpus)[1].cpu().numpy()
                                samples = time_calls(
                                    partial(fn, q, corpus),
                                    device,
                                    reps=plan.reps,
                                    budget_s=plan.budget_s,
                                )
                        except Exception as exc:  # one failing configuration must not end the run
                            part.rows.append(
                                Row(
                                    "retrieval",
                                    method,
                                    params,
                                    status="error",
                                    reason=f"{type(exc).__name__}: {str(exc)[:300]}",
                                )
                            )
                            continue
                        ms = stats(samples)["p50_ms"]
                        part.rows.append(
                            _row(
                                method,
                                params,
                                samples,
                                b,
                                recall_at_k(ids, truth[:b]),
                                exact_roofline(b, n, d, elem, ceilings, dtype, ms),
                            )
                        )
                        log(f"retrieval {method} n={n} d={d} b={b} {dtype}: {ms:.3f} ms")
                del corpus
            if d == plan.dims[0] and n in plan.host_sizes:
                _faiss_rows(
                    part,
                    plan,
                    corpus32.cpu().numpy(),
                    queries32.cpu().numpy(),
                    truth,
                    host_ceilings or ceilings,
                    ceilings,
                    log,
                    device,
                )
            del corpus32
            if cuda:
                torch.cuda.empty_cache()
    part.seconds = time.perf_counter() - started
    return part


def _faiss_rows(
    part: Part,
    plan: RetrievalPlan,
    corpus: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    host_ceilings: Ceilings,
    device_ceilings: Ceilings,
    log: Callable[[str], None],
    device: torch.device,
) -> None:
    try:
        import faiss
    except ImportError:
        part.rows.append(
            Row(
                "retrieval",
                "faiss-cpu",
                {"n": corpus.shape[0]},
                status="skipped",
                reason="skipped: faiss not installed",
            )
        )
        return
    n, d = corpus.shape
    builders: dict[str, Callable[[], Any]] = {
        "faiss-flat": lambda: faiss.IndexFlatIP(d),
        "faiss-hnsw": lambda: faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT),
        "faiss-ivf": lambda: faiss.IndexIVFFlat(
            faiss.IndexFlatIP(d), d, max(16, int(4 * n**0.5)), faiss.METRIC_INNER_PRODUCT
        ),
    }
    gpu = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    names = list(plan.host_indexes) + (["faiss-gpu-flat"] if gpu else [])
    if not gpu:
        part.rows.append(
            Row(
                "retrieval",
                "faiss-gpu-flat",
                {"n": n, "dim": d},
                status="skipped",
                reason="skipped: no CUDA"
                if device.type != "cuda"
                else "skipped: faiss-gpu not installed (no CUDA 13 wheel)",
            )
        )
    for name in names:
        try:
            _faiss_index_rows(
                part, plan, name, builders, corpus, queries, truth, host_ceilings, device_ceilings, log
            )
        except Exception as exc:  # one index failing must not drop the others' rows
            part.rows.append(
                Row(
                    "retrieval",
                    name,
                    {"n": n, "dim": d},
                    status="error",
                    reason=f"{type(exc).__name__}: {str(exc)[:300]}",
                )
            )


def _faiss_index_rows(
    part: Part,
    plan: RetrievalPlan,
    name: str,
    builders: dict[str, Callable[[], Any]],
    corpus: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    host_ceilings: Ceilings,
    device_ceilings: Ceilings,
    log: Callable[[str], None],
) -> None:
    import faiss

    n, d = corpus.shape
    host = torch.device("cpu")
    t0 = time.perf_counter()
    index: Any
    if name == "faiss-gpu-flat":
        res = faiss.StandardGpuResources()
        index = faiss.index_cpu_to_gpu(res, 0, faiss.IndexFlatIP(d))
    else:
        index = builders[name]()
    if name == "faiss-ivf":
        index.train(corpus[: min(n, 256 * index.nlist)])
        index.nprobe = 16
    if name == "faiss-hnsw":
        index.hnsw.efConstruction = 80
    index.add(corpus)
    if name == "faiss-hnsw":
        index.hnsw.efSearch = 64
    build_s = time.perf_counter() - t0
    for b in plan.batches:
        q = np.ascontiguousarray(queries[:b])
        ids = index.search(q, K)[1]
        samples = time_calls(
            partial(index.search, q, K),
            host,
            warmup=1,
            reps=plan.reps,
            budget_s=plan.budget_s,
        )
        ms = stats(samples)["p50_ms"]
        params: dict[str, Any] = {
            "n": n,
            "dim": d,
            "batch": b,
            "dtype": "fp32",
            "device": "host",
            "build_s": round(build_s, 2),
        }
        if name == "faiss-hnsw":
            params.update(M=32, efConstruction=80, efSearch=64)
        if name == "faiss-ivf":
            params.update(nlist=index.nlist, nprobe=16)
        on_gpu = name == "faiss-gpu-flat"
        roof = exact_roofline(b, n, d, 4, device_ceilings if on_gpu else host_ceilings, "fp32", ms)
        roof.arithmetic = (
            "(exact search on the device) " if on_gpu else "(exact search, host ceilings) "
        ) + roof.arithmetic
        part.rows.append(_row(name, params, samples, b, recall_at_k(ids, truth[:b]), roof))
        log(f"retrieval {name} n={n} b={b}: {ms:.3f} ms")


__all__ = ["RetrievalPlan", "exact_roofline", "recall_at_k", "run_retrieval"]
