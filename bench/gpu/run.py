"""``rag-harden gpu`` / ``python -m bench.gpu``: ceilings first, then retrieval, embedding, generation, the
OpenAI-compatible streaming client and vLLM, into typed JSON and Markdown.

Profiles: ``cuda`` (the full run: corpora 100k / 1M / 5M at 384 and 768), ``cuda-quick``, ``cpu`` and
``cpu-quick``
(small sizes; under a minute on 2 cores). Without CUDA the CPU-capable parts run and the CUDA-only ones say
"skipped: no CUDA". :func:`run_for_scenario` runs a scenario's ``gpu:`` block and returns its ``gpu.*``
metrics.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.gpu.corpus import CorpusSpec
from bench.gpu.results import GpuBenchResult, Part, Row, collect_env

PARTS = ("ceilings", "retrieval", "embedding", "generation", "openai", "vllm")


@dataclass(frozen=True)
class Profile:
    name: str
    sizes: tuple[int, ...]
    dims: tuple[int, ...]
    batches: tuple[int, ...]
    dtypes: tuple[str, ...]
    host_sizes: tuple[int, ...]
    reps: int
    embed_lengths: tuple[int, ...]
    embed_batch: int
    embed_dtypes: tuple[str, ...]
    gen_models: tuple[str, ...]
    gen_batches: tuple[int, ...]
    gen_dtype: str
    gen_prompt: int
    gen_new: int


PROFILES = {
    "cuda": Profile(
        "cuda",
        (100_000, 1_000_000, 5_000_000),
        (384, 768),
        (1, 32, 1024),
        ("fp16", "bf16"),
        (100_000,),
        20,
        (32, 128, 256),
        512,
        ("fp16", "bf16"),
        ("qwen2.5-0.5b-shape", "llama-3.2-1b-shape"),
        (1, 16, 64),
        "bf16",
        128,
        64,
    ),
    "cuda-quick": Profile(
        "cuda-quick",
        (100_000, 1_000_000),
        (384,),
        (1, 32, 1024),
        ("fp16",),
        (100_000,),
        10,
        (128,),
        512,
        ("fp16",),
        ("qwen2.5-0.5b-shape",),
        (1, 16),
        "bf16",
        128,
        32,
    ),
    "cpu": Profile(
        "cpu",
        (20_000, 100_000),
        (384, 768),
        (1, 32, 1024),
        ("fp32",),
        (20_000, 100_000),
        5,
        (32, 128, 256),
        32,
        ("fp32",),
        ("tiny-llama",),
        (1, 16, 64),
        "fp32",
        32,
        32,
    ),
    "cpu-quick": Profile(
        "cpu-quick",
        (10_000,),
        (384,),
        (1, 32, 1024),
        ("fp32",),
        (10_000,),
        3,
        (32, 128),
        8,
        ("fp32",),
        ("tiny-llama",),
        (1, 16),
        "fp32",
        16,
        12,
    ),
}


def pick_profile(quick: bool, device: torch.device) -> Profile:
    return PROFILES[("cuda" if device.type == "cuda" else "cpu") + ("-quick" if quick else "")]


def run_gpu_bench(
    *,
    quick: bool = False,
    parts: Sequence[str] = PARTS,
    openai_url: str | None = None,
    openai_model: str = "default",
    device: str = "auto",
    log: Callable[[str], None] = lambda _m: None,
) -> GpuBenchResult:
    from bench.gpu.ceilings import measure_ceilings
    from harness.torch_search import resolve_device

    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    profile = pick_profile(quick, dev)
    env = collect_env(profile.name)
    log(f"gpu bench: profile {profile.name} on {env.device_name}")
    t0 = time.perf_counter()
    ceilings = measure_ceilings(dev, quick)
    host = measure_ceilings(torch.device("cpu"), True) if cuda else ceilings
    done: list[Part] = [
        Part(
            "ceilings",
            "ok",
            seconds=time.perf_counter() - t0,
            notes=[ceilings.copy_arithmetic, *ceilings.matmul_arithmetic.values()]
            + (
                [f"host: {host.copy_arithmetic}", *(f"host: {t}" for t in host.matmul_arithmetic.values())]
                if cuda
                else []
            ),
        )
    ]
    spec = CorpusSpec()
    if "retrieval" in parts:
        from bench.gpu.retrieval import RetrievalPlan, run_retrieval

        methods = ("torch-topk", "torch-grouped", "triton-fused")
        plan = RetrievalPlan(
            profile.sizes,
            profile.dims,
            profile.batches,
            profile.dtypes,
            methods,
            profile.host_sizes,
            ("faiss-flat", "faiss-hnsw", "faiss-ivf"),
            profile.reps,
            10.0 if cuda else 1.5,
        )
        done.append(
            _guarded("retrieval", lambda: run_retrieval(plan, dev, ceilings, log, spec, host_ceilings=host))
        )
    if "embedding" in parts:
        from bench.gpu.embedding import run_embedding

        done.append(
            _guarded(
                "embedding",
                lambda: run_embedding(
                    dev,
                    ceilings,
                    lengths=profile.embed_lengths,
                    batch=profile.embed_batch,
                    dtypes=profile.embed_dtypes,
                    reps=profile.reps,
                    log=log,
                    budget_s=10.0 if cuda else 2.0,
                ),
            )
        )
    if "generation" in parts:
        from bench.gpu.generation import VARIANTS, run_generation

        threads = torch.get_num_threads()
        if not cuda:
            torch.set_num_threads(1)  # a tiny model: threads only add contention
        try:
            done.append(
                _guarded(
                    "generation",
                    lambda: run_generation(
                        dev,
                        ceilings,
                        models=profile.gen_models,
                        batches=profile.gen_batches,
                        dtype=profile.gen_dtype,
                        prompt=profile.gen_prompt,
                        new=profile.gen_new,
                        reps=3,
                        variants=VARIANTS,
                        log=log,
                        compile_batches=(1,) if quick else (1, 16, 64),
                    ),
                )
            )
        finally:
            torch.set_num_threads(threads)
    if "openai" in parts:
        from bench.gpu.openai_stream import run_openai

        done.append(
            _guarded(
                "openai",
                lambda: run_openai(
                    openai_url,
                    openai_model,
                    requests=5 if quick else 20,
                    max_tokens=16 if quick else 64,
                    log=log,
                    api_key=os.environ.get("OPENAI_API_KEY"),
                ),
            )
        )
    if "vllm" in parts:
        from bench.gpu.generation import run_vllm

        done.append(_guarded("vllm", lambda: run_vllm(profile.gen_batches, 32, log, ceilings)))
    return GpuBenchResult(env=env, ceilings=ceilings, parts=done, corpus_note=spec.describe())


def _guarded(name: str, fn: Callable[[], Part]) -> Part:
    """A part that raises is recorded as an error (type and message), and the run goes on."""
    t0 = time.perf_counter()
    try:
        return fn()
    except Exception as exc:
        return Part(
            name, "error", f"{type(exc).__name__}: {str(exc)[:500]}", seconds=time.perf_counter() - t0
        )


# --- headline metrics (the gpu.* names of harness/metrics.py)
# ------------------------------------------------


def _ok(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.status == "ok" and r.metrics]


def headline_metrics(result: GpuBenchResult) -> dict[str, float]:
    """The ``gpu.*`` metrics: ceilings; exact search on the headline corpus (1M x 384 where measured, else the
    largest at 384) at batch 1 and 1024 with the fastest torch method; HNSW recall; embedding at length 128;
    a decode step at batch 1 with the fastest variant of the first model; the OpenAI stream's TTFT and
    TPOT."""
    out: dict[str, float] = {}
    if result.ceilings is not None:
        out["gpu.copy_gbps"] = result.ceilings.copy_bytes_per_s / 1e9
        out["gpu.matmul_tflops"] = max(result.ceilings.matmul_flops_per_s.values()) / 1e12
    exact = [
        r
        for r in _ok(result.rows("retrieval"))
        if r.name.startswith(("torch-", "triton-")) and r.params.get("dim") == 384
    ]
    if exact:
        sizes = sorted({r.params["n"] for r in exact})
        n = 1_000_000 if 1_000_000 in sizes else sizes[-1]
        for b in (1, 1024):
            cands = [r for r in exact if r.params["n"] == n and r.params["batch"] == b]
            if cands:
                best = min(cands, key=lambda r: r.metrics["p50_ms"])
                out[f"gpu.search_b{b}_ms"] = best.metrics["p50_ms"]
                if best.roofline is not None:
                    out[f"gpu.search_b{b}_roofline"] = best.roofline.fraction
    hnsw = [r for r in _ok(result.rows("retrieval")) if r.name == "faiss-hnsw"]
    if hnsw:
        out["gpu.ann_recall@10"] = min(hnsw, key=lambda r: -r.params["n"]).metrics["recall@10"]
    emb = [r for r in _ok(result.rows("embedding")) if r.params.get("length") == 128]
    if emb:
        best = max(emb, key=lambda r: r.metrics["sentences_per_s"])
        out["gpu.embed_sentences_per_s"] = best.metrics["sentences_per_s"]
        if best.roofline is not None:
            out["gpu.embed_roofline"] = best.roofline.fraction
    gen = _ok(result.rows("generation"))
    if gen:
        first = gen[0].params["model"]
        cands = [r for r in gen if r.params["model"] == first and r.params["batch"] == 1]
        if cands:
            best = min(cands, key=lambda r: r.metrics["ms_per_step"])
            out["gpu.decode_step_ms"] = best.metrics["ms_per_step"]
            if best.roofline is not None:
                out["gpu.decode_roofline"] = best.roofline.fraction
    stream = _ok(result.rows("openai"))
    if stream:
        out["gpu.openai_ttft_p50_ms"] = stream[0].metrics["ttft_p50_ms"]
        out["gpu.openai_tpot_ms"] = stream[0].metrics["tpot_p50_ms"]
    return out


def write_result(result: GpuBenchResult, out_dir: Path, stem: str | None = None) -> dict[str, Path]:
    from bench.gpu.report import render_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = stem or f"gpu-{result.env.profile}"
    paths = {"json": out_dir / f"{stem}.json", "md": out_dir / f"{stem}.md"}
    paths["json"].write_text(result.to_json() + "\n")
    paths["md"].write_text(render_markdown(result, headline_metrics(result)))
    return paths


def run_for_scenario(config: Any, log: Callable[[str], None] = lambda _m: None) -> dict[str, float]:
    """Run a scenario's ``gpu:`` block (``quick``, ``parts``, ``openai_url``, ``openai_model``, ``out_dir``)
    and
    return its ``gpu.*`` metrics; the JSON and Markdown go to ``out_dir`` when it is set."""
    result = run_gpu_bench(
        quick=bool(getattr(config, "quick", True)),
        parts=tuple(getattr(config, "parts", PARTS)),
        openai_url=getattr(config, "openai_url", None),
        openai_model=getattr(config, "openai_model", "default"),
        log=log,
    )
    out_dir = getattr(config, "out_dir", None)
    if out_dir is not None:
        write_result(result, Path(out_dir))
    return headline_metrics(result)


__all__ = [
    "PARTS",
    "PROFILES",
    "Profile",
    "headline_metrics",
    "pick_profile",
    "run_for_scenario",
    "run_gpu_bench",
    "write_result",
]
