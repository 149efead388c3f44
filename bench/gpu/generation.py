"""Decode speed of transformers models with random weights built from real configurations (no hub access):
the Qwen2.5-0.5B and Llama-3.2-1B shapes, written out below. Milliseconds per decode step and tokens/s at
batch 1 / 16 / 64, for plain ``generate()``, ``generate()`` with a static KV cache, a static-cache decode loop
(eager, then captured as one CUDA graph per step), and ``generate()`` with a static cache and
``torch.compile`` (mode reduce-overhead,
i.e. CUDA graphs too). On the CPU (``--quick``) a tiny Llama stands in and the CUDA-only variants are skipped.

Memory roofline of one decode step: every weight is read once (``sum(parameter bytes)``; a tied embedding
counts
once, as the output projection) plus the KV cache the step attends over (``2 x layers x kv_heads x head_dim x
batch x context x bytes``, with the mean context of the measured steps), over the measured copy bandwidth.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

import torch

from bench.gpu.results import Ceilings, Part, Roofline, Row, memory_roofline
from bench.gpu.timing import sync
from harness.torch_search import DTYPES

QWEN25_05B: dict[str, Any] = {
    "model_type": "qwen2",
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rope_theta": 1000000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
    "use_sliding_window": False,
}
LLAMA32_1B: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 64,
    "vocab_size": 128256,
    "max_position_embeddings": 131072,
    "rope_theta": 500000.0,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
    "rope_scaling": {
        "factor": 32.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
}
TINY_LLAMA: dict[str, Any] = {
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1024,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": True,
}
MODELS: dict[str, dict[str, Any]] = {
    "qwen2.5-0.5b-shape": QWEN25_05B,
    "llama-3.2-1b-shape": LLAMA32_1B,
    "tiny-llama": TINY_LLAMA,
}
VARIANTS = ("generate", "generate-static", "static-loop", "static-cuda-graph", "generate-static-compile")
CUDA_ONLY = {"static-cuda-graph", "generate-static-compile"}


def build_model(shape: dict[str, Any], device: torch.device, dtype: torch.dtype) -> Any:
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = dict(shape)
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    config.pad_token_id, config.eos_token_id, config.bos_token_id = 0, None, None
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


def decode_bytes(model: Any, batch: int, context: float) -> tuple[float, str]:
    cfg = model.config
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    elem = next(model.parameters()).element_size()
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * head_dim * batch * context * elem
    text = (
        f"weights {weights / 1e6:.1f} MB + KV 2 x {cfg.num_hidden_layers} layers x {cfg.num_key_value_heads} "
        f"heads x {head_dim} x batch {batch} x context {context:.0f} x {elem} B = {kv / 1e6:.2f} MB"
    )
    return float(weights + kv), text


def _generate_ms(model: Any, ids: torch.Tensor, new: int, device: torch.device, **kw: Any) -> float:
    mask = torch.ones_like(ids)
    sync(device)
    t0 = time.perf_counter()
    model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=new,
        min_new_tokens=new,
        do_sample=False,
        pad_token_id=0,
        **kw,
    )
    sync(device)
    return (time.perf_counter() - t0) * 1e3


def step_ms_generate(
    model: Any, ids: torch.Tensor, new: int, device: torch.device, reps: int, **kw: Any
) -> float:
    """(time to generate ``new`` tokens - time to generate 1) / (new - 1): the decode steps alone, prefill
    excluded."""
    _generate_ms(model, ids, new, device, **kw)  # warm-up (and compilation, where asked)
    _generate_ms(model, ids, 1, device, **kw)
    long = sorted(_generate_ms(model, ids, new, device, **kw) for _ in range(reps))[reps // 2]
    short = sorted(_generate_ms(model, ids, 1, device, **kw) for _ in range(reps))[reps // 2]
    return max(long - short, 1e-6) / (new - 1)


def step_ms_static_loop(model: Any, ids: torch.Tensor, new: int, device: torch.device, graph: bool) -> float:
    """A greedy decode loop over a :class:`transformers.StaticCache`, one step per call (captured as a CUDA
    graph
    when ``graph``); the mean over ``new`` steps, argmax and token copy included."""
    from transformers import StaticCache

    b, p = ids.shape
    cache = StaticCache(config=model.config, max_cache_len=p + new + 4)
    out = model(
        input_ids=ids, past_key_values=cache, cache_position=torch.arange(p, device=device), use_cache=True
    )
    token = out.logits[:, -1:].argmax(-1)
    position = torch.tensor([p], device=device)

    def step() -> torch.Tensor:
        return model(input_ids=token, past_key_values=cache, cache_position=position, use_cache=True).logits

    run: Callable[[], torch.Tensor] = step
    if graph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                step()
        torch.cuda.current_stream().wait_stream(side)
        cuda_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(cuda_graph):
            logits = step()

        def run() -> torch.Tensor:
            cuda_graph.replay()
            return logits

    for i in range(2):  # warm-up steps
        position.fill_(p + i)
        token.copy_(run()[:, -1:].argmax(-1))
    sync(device)
    t0 = time.perf_counter()
    for i in range(2, new):
        position.fill_(p + i)
        token.copy_(run()[:, -1:].argmax(-1))
    sync(device)
    return (time.perf_counter() - t0) * 1e3 / (new - 2)


def run_generation(
    device: torch.device,
    ceilings: Ceilings,
    *,
    models: tuple[str, ...],
    batches: tuple[int, ...],
    dtype: str,
    prompt: int,
    new: int,
    reps: int,
    variants: tuple[str, ...],
    log: Callable[[str], None],
    compile_batches: tuple[int, ...] = (1,),
) -> Part:
    started = time.perf_counter()
    cuda = device.type == "cuda"
    part = Part(
        "generation",
        "ok",
        notes=[
            f"random weights; prompt {prompt} tokens, {new} new tokens, greedy; "
            f"ms per decode step excludes the prefill"
        ],
    )
    for name in models:
        model = build_model(MODELS[name], device, DTYPES[dtype])
        for b in batches:
            ids = torch.randint(1, model.config.vocab_size, (b, prompt), device=device)
            context = prompt + new / 2
            nbytes, what = decode_bytes(model, b, context)
            for variant in variants:
                params = {
                    "model": name,
                    "batch": b,
                    "dtype": dtype,
                    "prompt": prompt,
                    "new_tokens": new,
                    "device": str(device),
                }
                if variant in CUDA_ONLY and not cuda:
                    part.rows.append(
                        Row("generation", variant, params, status="skipped", reason="skipped: no CUDA")
                    )
                    continue
                if variant == "generate-static-compile" and b not in compile_batches:
                    part.rows.append(
                        Row(
                            "generation",
                            variant,
                            params,
                            status="skipped",
                            reason=f"skipped: compiled only at batch {compile_batches} (compile time)",
                        )
                    )
                    continue
                try:
                    with torch.inference_mode():
                        ms = _measure(variant, model, ids, new, device, reps)
                except Exception as exc:  # one failing variant must not end the run
                    part.rows.append(
                        Row(
                            "generation",
                            variant,
                            params,
                            status="error",
                            reason=f"{type(exc).__name__}: {str(exc)[:300]}",
                        )
                    )
                    log(f"generation {name} b={b} {variant}: {type(exc).__name__}")
                    continue
                roof: Roofline = memory_roofline(nbytes, ceilings.bandwidth(), ms, "copy bandwidth", what)
                part.rows.append(
                    Row(
                        "generation",
                        variant,
                        params,
                        {
                            "ms_per_step": ms,
                            "tokens_per_s": b * 1e3 / ms,
                            "roofline_ms_per_step": roof.ideal_ms,
                        },
                        roof,
                    )
                )
                log(f"generation {name} b={b} {variant}: {ms:.3f} ms/step")
        del model
        if cuda:
            torch.cuda.empty_cache()
    part.seconds = time.perf_counter() - started
    return part


def _measure(variant: str, model: Any, ids: torch.Tensor, new: int, device: torch.device, reps: int) -> float:
    if variant == "generate":
        return step_ms_generate(model, ids, new, device, reps, disable_compile=True)
    if variant == "generate-static":
        return step_ms_generate(
            model, ids, new, device, reps, cache_implementation="static", disable_compile=True
        )
    if variant in ("static-loop", "static-cuda-graph"):
        return step_ms_static_loop(model, ids, new, device, graph=variant == "static-cuda-graph")
    from transformers import CompileConfig

    return step_ms_generate(
        model,
        ids,
        new,
        device,
        max(1, reps // 2),
        cache_implementation="static",
        compile_config=CompileConfig(fullgraph=True, mode="reduce-overhead"),
    )


def run_vllm(batches: tuple[int, ...], new: int, log: Callable[[str], None], ceilings: Ceilings) -> Part:
    """In-process vLLM with ``load_format="dummy"`` (random weights) on the Qwen2.5-0.5B shape, where
    installed."""
    if importlib.util.find_spec("vllm") is None:
        return Part("vllm", "skipped", "skipped: vllm not installed")
    if not torch.cuda.is_available():
        return Part("vllm", "skipped", "skipped: no CUDA")
    import json
    import tempfile
    from pathlib import Path

    started = time.perf_counter()
    part = Part("vllm", "ok")
    try:
        from vllm import LLM, SamplingParams

        folder = Path(tempfile.mkdtemp(prefix="vllm-dummy-"))
        cfg = {**QWEN25_05B, "architectures": ["Qwen2ForCausalLM"], "torch_dtype": "bfloat16"}
        (folder / "config.json").write_text(json.dumps(cfg))
        llm = LLM(
            model=str(folder),
            load_format="dummy",
            skip_tokenizer_init=True,
            dtype="bfloat16",
            gpu_memory_utilization=0.3,
            max_model_len=2048,
        )
        model_bytes = 494e6 * 2
        for b in batches:
            prompts = [{"prompt_token_ids": [1 + (i * 7 + j) % 1000 for j in range(128)]} for i in range(b)]

            def gen(n: int, prompts: list[dict[str, Any]] = prompts) -> float:
                t0 = time.perf_counter()
                llm.generate(
                    prompts,
                    SamplingParams(max_tokens=n, min_tokens=n, ignore_eos=True, detokenize=False),
                    use_tqdm=False,
                )
                return (time.perf_counter() - t0) * 1e3

            gen(new)
            ms = (gen(new) - gen(1)) / (new - 1)
            roof = memory_roofline(
                model_bytes,
                ceilings.bandwidth(),
                ms,
                "copy bandwidth",
                "weights about 988 MB (KV not counted)",
            )
            part.rows.append(
                Row(
                    "vllm",
                    "vllm-dummy",
                    {"model": "qwen2.5-0.5b-shape", "batch": b},
                    {"ms_per_step": ms, "tokens_per_s": b * 1e3 / ms},
                    roof,
                )
            )
            log(f"vllm b={b}: {ms:.3f} ms/step")
    except Exception as exc:  # vLLM's own errors vary by version
        part.status, part.reason = "error", f"{type(exc).__name__}: {str(exc)[:300]}"
    part.seconds = time.perf_counter() - started
    return part


__all__ = [
    "LLAMA32_1B",
    "MODELS",
    "QWEN25_05B",
    "TINY_LLAMA",
    "VARIANTS",
    "build_model",
    "decode_bytes",
    "run_generation",
    "run_vllm",
]
