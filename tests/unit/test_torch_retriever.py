"""The torch exact search against brute force, its config in the retriever union, and the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from harness.config import PipelineConfig
from harness.pipeline.retrievers.faiss_flat import FaissRetrieverConfig
from harness.pipeline.retrievers.torch_exact import TorchRetrieverConfig
from harness.errors import BackendUnavailable
from harness.pipeline.retrievers import RETRIEVERS
from harness.torch_search import exact_topk, step_rows


def clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((16, d))
    x = centres[rng.integers(0, 16, n)] + 0.3 * rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def brute(q: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("method", ["topk", "grouped"])
@pytest.mark.parametrize("chunk_rows", [1024, 1 << 20])
def test_chunked_search_equals_brute_force(method: str, chunk_rows: int) -> None:
    x = clustered(5000, 48)
    q = clustered(40, 48, seed=1)
    scores, ids = exact_topk(
        torch.from_numpy(q), torch.from_numpy(x), 10, chunk_rows=chunk_rows, method=method
    )
    expected = brute(q, x, 10)
    assert (ids.numpy() == expected).mean() > 0.99  # ties aside
    np.testing.assert_allclose(scores.numpy(), np.take_along_axis(q @ x.T, expected, 1), atol=1e-5)
    assert (np.diff(scores.numpy(), axis=1) <= 1e-7).all()  # best first


def test_more_neighbours_than_rows_pads_with_minus_one() -> None:
    x = clustered(7, 16)
    scores, ids = exact_topk(torch.from_numpy(x[:2]), torch.from_numpy(x), 10)
    assert ids.shape == (2, 10) and (ids[:, 7:] == -1).all() and torch.isinf(scores[:, 7:]).all()
    assert sorted(ids[0, :7].tolist()) == list(range(7)) and ids[0, 0] == 0


def test_large_batches_score_fewer_rows_per_step() -> None:
    assert step_rows(1, 1 << 20) == 1 << 20
    assert step_rows(1024, 1 << 20) == (1 << 28) // 1024
    assert step_rows(10**9, 1 << 20) == 1024


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_low_precision_keeps_most_of_the_top_10(dtype: str) -> None:
    x, q = clustered(3000, 64), clustered(30, 64, seed=2)
    index = RETRIEVERS.build(TorchRetrieverConfig(device="cpu", dtype=dtype)).build(x)
    _, ids = index.search(q, 10)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, brute(q, x, 10), strict=True)])
    assert overlap >= 0.9


def test_retriever_config_is_a_union_on_backend() -> None:
    cfg = PipelineConfig.model_validate({"retriever": {"backend": "torch", "dtype": "fp16", "top_k": 7}})
    assert isinstance(cfg.retriever, TorchRetrieverConfig) and cfg.retriever.top_k == 7
    assert isinstance(PipelineConfig().retriever, FaissRetrieverConfig)
    with pytest.raises(ValidationError):
        PipelineConfig.model_validate(
            {"retriever": {"backend": "torch", "index": "flat-ip"}}
        )  # a faiss field
    with pytest.raises(ValidationError):
        PipelineConfig.model_validate({"retriever": {"backend": "annoy"}})
    assert {"faiss", "torch", "faiss-gpu"} <= set(RETRIEVERS.names())


def test_cuda_without_a_device_and_faiss_gpu_without_a_build_fail_loudly() -> None:
    import faiss

    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="no CUDA"):
            RETRIEVERS.build(TorchRetrieverConfig(device="cuda"))
    if not hasattr(faiss, "StandardGpuResources"):
        with pytest.raises(BackendUnavailable, match="faiss-gpu"):
            RETRIEVERS.build(PipelineConfig.model_validate({"retriever": {"backend": "faiss-gpu"}}).retriever)
