"""The hardware's own limits, measured first in every run: copy bandwidth and matrix-multiply rate.

On CUDA: device-to-device copy of a 1 GiB buffer (bytes read + bytes written per second) and square fp16, bf16
(and fp32, TF32 off) matmuls. On the CPU: a memory copy of 256 MiB and an fp32 matmul. Each is the best of a
few
repetitions: a ceiling is what the hardware can reach, not what it usually does.
"""

from __future__ import annotations

from functools import partial

import torch

from bench.gpu.results import Ceilings
from bench.gpu.timing import time_calls


def measure_ceilings(device: torch.device, quick: bool) -> Ceilings:
    cuda = device.type == "cuda"
    nbytes = (1 << 30) if cuda else (64 << 20 if quick else 256 << 20)
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    src.fill_(1)
    dst = torch.empty_like(src)
    ms = min(time_calls(partial(dst.copy_, src), device, warmup=2, reps=10 if cuda else 5))
    copy = 2 * nbytes / (ms / 1e3)
    copy_text = (
        f"copy {nbytes / 2**20:.0f} MiB: 2 x {nbytes / 1e6:.1f} MB (read + write) / {ms:.3f} ms "
        f"= {copy / 1e9:.1f} GB/s (best of the repetitions)"
    )
    del src, dst
    rates: dict[str, float] = {}
    texts: dict[str, str] = {}
    dtypes = (
        {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
        if cuda
        else {"fp32": torch.float32}
    )
    n = 8192 if cuda else (1024 if quick else 2048)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
    for name, dtype in dtypes.items():
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        ms = min(time_calls(partial(torch.matmul, a, b), device, warmup=2, reps=10 if cuda else 3))
        rates[name] = 2 * n**3 / (ms / 1e3)
        texts[name] = (
            f"{name} {n}x{n}x{n}: 2 x {n}^3 = {2 * n**3 / 1e9:.1f} GFLOP / {ms:.3f} ms "
            f"= {rates[name] / 1e12:.2f} TFLOP/s"
        )
        del a, b
    if cuda:
        torch.cuda.empty_cache()
    return Ceilings(
        device=str(device),
        copy_bytes_per_s=copy,
        copy_arithmetic=copy_text,
        matmul_flops_per_s=rates,
        matmul_arithmetic=texts,
    )


__all__ = ["measure_ceilings"]
