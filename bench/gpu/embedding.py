"""Embedding throughput: the all-MiniLM-L6-v2 shape (BERT, 6 layers, hidden 384, 12 heads, FFN 1536) with
random
weights, in fp16 / bf16 on CUDA (fp32 on the CPU), at sequence lengths 32 / 128 / 256, against the compute
roofline.

FLOPs per sentence of length L (hidden h, FFN f, layers l): per layer ``2 * L * (4 h^2 + 2 h f)`` for the four
attention projections and the FFN, plus ``4 * L^2 * h`` for the attention scores and their weighted sum;
pooling
and the embedding lookup are negligible. Roofline: those FLOPs over the measured matmul rate of the dtype.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from bench.gpu.results import Ceilings, Part, Row, compute_roofline
from bench.gpu.timing import stats, time_calls
from harness.torch_search import DTYPES

MINILM_L6: dict[str, Any] = {
    "vocab_size": 30522,
    "hidden_size": 384,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "hidden_act": "gelu",
}


def flops_per_sentence(length: int, cfg: dict[str, Any] = MINILM_L6) -> float:
    h, f, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    return float(layers * (2 * length * (4 * h * h + 2 * h * f) + 4 * length * length * h))


def build_encoder(device: torch.device, dtype: torch.dtype) -> Any:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(**MINILM_L6, attn_implementation="sdpa")  # type: ignore[call-arg]
    with torch.device(device):
        model = BertModel(config, add_pooling_layer=False)
    return model.to(dtype).eval()  # type: ignore[arg-type]


def run_embedding(
    device: torch.device,
    ceilings: Ceilings,
    *,
    lengths: tuple[int, ...],
    batch: int,
    dtypes: tuple[str, ...],
    reps: int,
    log: Callable[[str], None],
    budget_s: float = 20.0,
) -> Part:
    started = time.perf_counter()
    part = Part(
        "embedding",
        "ok",
        notes=[
            "random weights in the all-MiniLM-L6-v2 shape (speed only); mean pooling "
            "and L2 normalisation included; all tokens real (no padding)"
        ],
    )
    for dtype in dtypes:
        model = build_encoder(device, DTYPES[dtype])
        for length in lengths:
            ids = torch.randint(1000, 30000, (batch, length), device=device)
            mask = torch.ones_like(ids)

            def encode(
                ids: torch.Tensor = ids, mask: torch.Tensor = mask, model: Any = model
            ) -> torch.Tensor:
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
                pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
                return torch.nn.functional.normalize(pooled.float(), dim=1)

            with torch.inference_mode():
                samples = time_calls(encode, device, warmup=1, reps=reps, budget_s=budget_s)
            st = stats(samples)
            ms = st["p50_ms"]
            rate, rate_name = ceilings.matmul(dtype)
            flops = flops_per_sentence(length) * batch
            roof = compute_roofline(
                flops,
                rate,
                ms,
                rate_name,
                f"{batch} sentences x {flops_per_sentence(length) / 1e9:.3f} GFLOP (L={length})",
            )
            st["sentences_per_s"] = batch / (ms / 1e3)
            st["roofline_sentences_per_s"] = batch / (roof.ideal_ms / 1e3)
            part.rows.append(
                Row(
                    "embedding",
                    "minilm-l6-shape",
                    {"length": length, "batch": batch, "dtype": dtype, "device": str(device)},
                    st,
                    roof,
                )
            )
            log(f"embedding L={length} {dtype}: {st['sentences_per_s']:.0f} sentences/s")
        del model
    part.seconds = time.perf_counter() - started
    return part


__all__ = ["MINILM_L6", "build_encoder", "flops_per_sentence", "run_embedding"]
