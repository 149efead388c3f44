"""A fused matmul + top-k kernel in Triton: exact inner-product top-k that never writes the score matrix.

Each program takes a block of ``BLOCK_M`` queries and one split (a contiguous range of corpus rows). It walks
its
rows ``BLOCK_N`` at a time, computes the ``BLOCK_M x BLOCK_N`` score tile in registers (``tl.dot`` over the
dimension in ``BLOCK_K`` steps), and merges the tile into a running top-``KP`` per query held in registers
(``KP`` = k rounded up to a power of two): a tile is only searched as often as the largest number of its
scores
that beat a query's current ``KP``-th best, which after the first tiles is 0 or 1. Each program writes ``KP``
candidates per query; a final ``torch.topk`` over ``splits x KP`` candidates per query gives the answer.
Memory
written: ``b x splits x KP`` pairs instead of ``b x n`` scores.

Runs on CUDA, and on the CPU under Triton's interpreter (``TRITON_INTERPRET=1``, set before triton is
imported),
which is how its tests check it without a GPU.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import torch


def triton_available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"


def _patch_interpreter_for_numpy2() -> None:
    """Triton's CPU interpreter holds scalars as 1-element arrays and takes ``int()`` of them, which NumPy >=
    2.3
    refuses; make ``__index__`` read the element (interpreter only; compiled kernels are untouched)."""
    import triton.runtime.interpreter as interpreter

    original = interpreter._patch_lang_tensor
    if getattr(original, "_rag_harden", False):
        return

    def patched(tensor: Any, scope: Any) -> None:
        original(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

    patched._rag_harden = True  # type: ignore[attr-defined]
    interpreter._patch_lang_tensor = patched


@functools.cache
def _kernel() -> Any:
    import triton
    import triton.language as tl

    if os.environ.get("TRITON_INTERPRET") == "1":
        _patch_interpreter_for_numpy2()

    @triton.jit
    def fused_topk_kernel(
        q_ptr,
        x_ptr,
        out_v_ptr,
        out_i_ptr,
        n_queries,
        n_rows,
        dim,
        rows_per_split,
        stride_q,
        stride_x,
        stride_ob,
        stride_os,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        BLOCK_K: tl.constexpr,
        KP: tl.constexpr,
        PRECISION: tl.constexpr,
    ):
        pid_m = tl.program_id(0)
        pid_s = tl.program_id(1)
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_k = tl.arange(0, BLOCK_K)
        cols_n = tl.arange(0, BLOCK_N)
        cols_kp = tl.arange(0, KP)
        top_v = tl.full((BLOCK_M, KP), float("-inf"), tl.float32)
        top_i = tl.full((BLOCK_M, KP), -1, tl.int32)
        start = pid_s * rows_per_split
        end = tl.minimum(start + rows_per_split, n_rows)
        for t in range(0, rows_per_split, BLOCK_N):  # rows_per_split is a multiple of BLOCK_N
            n0 = start + t
            offs_n = n0 + cols_n
            acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
            for k0 in range(0, dim, BLOCK_K):
                kk = k0 + offs_k
                a = tl.load(
                    q_ptr + offs_m[:, None] * stride_q + kk[None, :],
                    mask=(offs_m[:, None] < n_queries) & (kk[None, :] < dim),
                    other=0.0,
                )
                b = tl.load(
                    x_ptr + offs_n[None, :] * stride_x + kk[:, None],
                    mask=(offs_n[None, :] < end) & (kk[:, None] < dim),
                    other=0.0,
                )
                acc += tl.dot(a, b, input_precision=PRECISION)
            acc = tl.where((offs_n < end)[None, :], acc, float("-inf"))
            threshold = tl.min(top_v, axis=1)
            beats = tl.sum((acc > threshold[:, None]).to(tl.int32), axis=1)
            rounds = tl.minimum(tl.max(beats, axis=0), KP)
            for _ in range(rounds):
                best = tl.max(acc, axis=1)
                arg = tl.argmax(acc, axis=1)
                worst = tl.min(top_v, axis=1)
                slot = tl.argmin(top_v, axis=1)
                take = best > worst
                put = (cols_kp[None, :] == slot[:, None]) & take[:, None]
                top_v = tl.where(put, best[:, None], top_v)
                top_i = tl.where(put, (n0 + arg)[:, None], top_i)
                acc = tl.where(cols_n[None, :] == arg[:, None], float("-inf"), acc)
        out = offs_m[:, None] * stride_ob + pid_s * stride_os + cols_kp[None, :]
        tl.store(out_v_ptr + out, top_v, mask=offs_m[:, None] < n_queries)
        tl.store(out_i_ptr + out, top_i, mask=offs_m[:, None] < n_queries)

    return fused_topk_kernel


def default_blocks(n_queries: int) -> tuple[int, int, int]:
    """(BLOCK_M, BLOCK_N, BLOCK_K): small query blocks for small batches (the search is memory-bound
    there)."""
    if n_queries <= 16:
        return 16, 128, 64
    if n_queries <= 64:
        return 64, 64, 64
    return 128, 64, 64


def default_splits(n_queries: int, n_rows: int, block_m: int, block_n: int) -> int:
    """Enough programs to fill a large GPU (about 4 per SM on 132 SMs), each with at least a few tiles."""
    query_blocks = -(-n_queries // block_m)
    want = max(1, 528 // query_blocks)
    return max(1, min(want, n_rows // (8 * block_n) or 1))


def fused_topk(
    queries: torch.Tensor,
    corpus: torch.Tensor,
    k: int,
    *,
    splits: int | None = None,
    blocks: tuple[int, int, int] | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores (float32) and int64 ids ``(b, k)`` of the ``k`` best rows per query; both inputs contiguous,
    same
    dtype, same device. Needs ``k <= 64``."""
    import triton

    if k > 64:
        raise ValueError("fused_topk supports k <= 64")
    b, dim = queries.shape
    n = corpus.shape[0]
    block_m, block_n, block_k = blocks or default_blocks(b)
    kp = max(16, triton.next_power_of_2(k))
    splits = splits or default_splits(b, n, block_m, block_n)
    rows_per_split = -(-n // splits)
    rows_per_split = -(-rows_per_split // block_n) * block_n
    splits = -(-n // rows_per_split)
    out_v = torch.empty((b, splits, kp), device=queries.device, dtype=torch.float32)
    out_i = torch.empty((b, splits, kp), device=queries.device, dtype=torch.int32)
    grid = (triton.cdiv(b, block_m), splits)
    extra: dict[str, int] = {}
    if num_warps is not None:
        extra["num_warps"] = num_warps
    if num_stages is not None:
        extra["num_stages"] = num_stages
    _kernel()[grid](
        queries,
        corpus,
        out_v,
        out_i,
        b,
        n,
        dim,
        rows_per_split,
        queries.stride(0),
        corpus.stride(0),
        out_v.stride(0),
        out_v.stride(1),
        BLOCK_M=block_m,
        BLOCK_N=block_n,
        BLOCK_K=block_k,
        KP=kp,
        PRECISION="ieee" if queries.dtype == torch.float32 else "tf32",
        **extra,
    )
    flat_v, flat_i = out_v.view(b, -1), out_i.view(b, -1)
    kk = min(k, flat_v.shape[1])
    values, pos = torch.topk(flat_v, kk, dim=1)
    ids = torch.gather(flat_i, 1, pos).to(torch.int64)
    return values, torch.where(torch.isinf(values), torch.full_like(ids, -1), ids)


__all__ = ["default_blocks", "default_splits", "fused_topk", "triton_available"]
