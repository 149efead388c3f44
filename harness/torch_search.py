"""Exact inner-product top-k on torch tensors, chunked over the corpus with a running top-k.

Pure torch and numpy (no pydantic, no faiss): the pipeline's ``torch`` retriever and the GPU benchmarks
(``bench/gpu``, which must import on a machine with torch only) share it.

The corpus may be larger than what one score matrix can hold: rows are scored ``chunk_rows`` at a time (fewer
when
the query batch is large, so one step's score matrix stays under :data:`SCORE_BUDGET` elements), each step's
top-k
is merged into the running top-k, and the whole ``(queries x corpus)`` score matrix never exists at once. A
corpus
kept on the host (``pin``-ned when CUDA is used) is streamed to the device chunk by chunk, so 10M x 384 fits
a GPU
that holds only a few chunks.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

DTypeName = Literal["fp32", "fp16", "bf16"]
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# Elements of one step's score matrix (2^28: 512 MB in fp16); a step scores fewer rows when the batch is
# large.
SCORE_BUDGET = 1 << 28
TopkMethod = Literal["topk", "grouped"]


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA when there is one, else the CPU; ``cuda`` without a device is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but torch finds no CUDA device")
    return torch.device(device)


def step_rows(n_queries: int, chunk_rows: int, budget: int = SCORE_BUDGET) -> int:
    """Corpus rows scored per step for a batch of ``n_queries``: at most ``chunk_rows``, and at most
    ``budget / n_queries`` (never under 1024)."""
    return max(1024, min(chunk_rows, budget // max(1, n_queries)))


def _topk_rows(scores: torch.Tensor, k: int, method: TopkMethod) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``k`` per row. ``grouped``: the max of each group of 64 columns, the top-k groups by that max,
    then top-k
    of their members; exact (the k best elements lie in the k groups with the highest maxima), and on a GPU it
    replaces a radix select over every column by one reduction pass and a small select."""
    n = scores.shape[1]
    if method == "topk" or n < 64 * 4 * k:
        return torch.topk(scores, k, dim=1)
    group = 64
    full = (n // group) * group
    maxima = scores[:, :full].view(scores.shape[0], -1, group).amax(dim=2)
    _, top_groups = torch.topk(maxima, k, dim=1)  # (b, k)
    members = (top_groups.unsqueeze(2) * group + torch.arange(group, device=scores.device)).view(
        scores.shape[0], -1
    )
    if full < n:  # the ragged tail joins the candidates
        tail = torch.arange(full, n, device=scores.device).expand(scores.shape[0], -1)
        members = torch.cat([members, tail], dim=1)
    cand = torch.gather(scores, 1, members)
    values, pos = torch.topk(cand, k, dim=1)
    return values, torch.gather(members, 1, pos)


def exact_topk(
    queries: torch.Tensor,
    corpus: torch.Tensor,
    k: int,
    *,
    chunk_rows: int = 1_048_576,
    method: TopkMethod = "topk",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores ``(b, k)`` and int64 row ids ``(b, k)`` of the ``k`` largest inner products of each query with
    the
    corpus rows, best first. ``queries`` sit on the compute device in the compute dtype; ``corpus`` may be on
    the
    host (each chunk is copied to the device when scored). When ``k`` exceeds the corpus, the missing
    neighbours
    have score ``-inf`` and id ``-1``. Ties are broken arbitrarily."""
    b, n = queries.shape[0], corpus.shape[0]
    device = queries.device
    kk = min(k, n)
    best_s: torch.Tensor | None = None
    best_i: torch.Tensor | None = None
    rows = step_rows(b, chunk_rows)
    for start in range(0, n, rows):
        block = corpus[start : start + rows]
        if block.device != device or block.dtype != queries.dtype:
            block = block.to(device=device, dtype=queries.dtype, non_blocking=True)
        scores = queries @ block.T
        s, i = _topk_rows(scores, min(kk, block.shape[0]), method)
        i = i + start
        if best_s is None or best_i is None:
            best_s, best_i = s, i
            continue
        cat_s, cat_i = torch.cat([best_s, s], dim=1), torch.cat([best_i, i], dim=1)
        best_s, pos = torch.topk(cat_s, kk, dim=1)
        best_i = torch.gather(cat_i, 1, pos)
    if best_s is None or best_i is None:  # an empty corpus
        best_s = torch.empty((b, 0), device=device, dtype=queries.dtype)
        best_i = torch.empty((b, 0), device=device, dtype=torch.int64)
    if kk < k:
        pad = k - kk
        best_s = torch.cat(
            [best_s, torch.full((b, pad), float("-inf"), device=device, dtype=best_s.dtype)], dim=1
        )
        best_i = torch.cat([best_i, torch.full((b, pad), -1, device=device, dtype=best_i.dtype)], dim=1)
    return best_s, best_i.to(torch.int64)


def to_numpy(scores: torch.Tensor, ids: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    return (
        scores.float().cpu().numpy().astype(np.float32, copy=False),
        ids.cpu().numpy().astype(np.int64, copy=False),
    )


def place_corpus(
    vectors: np.ndarray | torch.Tensor, device: torch.device, dtype: torch.dtype, *, resident: bool = True
) -> torch.Tensor:
    """The corpus as the search wants it: on ``device`` in ``dtype`` (``resident``), or kept on the host in
    ``dtype`` (pinned when CUDA is used) and streamed chunk by chunk."""
    tensor = torch.as_tensor(vectors)
    if resident:
        out = torch.empty(tensor.shape, dtype=dtype, device=device)
        step = 1 << 20
        for start in range(0, tensor.shape[0], step):  # convert piecewise: no full-size temporary on the host
            out[start : start + step] = tensor[start : start + step].to(device=device, dtype=dtype)
        return out
    host = tensor.to(dtype)
    return host.pin_memory() if device.type == "cuda" else host


__all__ = ["DTYPES", "SCORE_BUDGET", "exact_topk", "place_corpus", "resolve_device", "step_rows", "to_numpy"]
