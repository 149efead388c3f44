"""The embedder's LRU vector cache: each distinct text computed once, rows in input order, bounded size, and
no row of a call lost to an eviction the call itself causes."""

from __future__ import annotations

import numpy as np

from harness.pipeline.vector_cache import VectorCache


class Counting:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(texts)
        return np.array([[float(len(t)), float(sum(map(ord, t)))] for t in texts], dtype=np.float32).reshape(-1, 2)


def test_each_distinct_text_is_computed_once_and_rows_keep_the_input_order() -> None:
    cache, compute = VectorCache(100), Counting()
    first = cache.get_or_compute(["a", "bb", "a"], compute)
    assert compute.calls == [["a", "bb"]]  # the duplicate in one call is computed once
    second = cache.get_or_compute(["ccc", "bb", "a"], compute)
    assert compute.calls[-1] == ["ccc"]
    np.testing.assert_array_equal(second, compute(["ccc", "bb", "a"]))
    np.testing.assert_array_equal(first[0], first[2])
    assert (cache.hits, cache.misses) == (3, 3)


def test_capacity_bounds_the_cache_and_evicts_the_least_recently_used() -> None:
    cache, compute = VectorCache(2), Counting()
    cache.get_or_compute(["a", "b"], compute)
    cache.get_or_compute(["a"], compute)  # "a" is now the most recently used
    cache.get_or_compute(["c"], compute)  # evicts "b"
    assert len(cache) == 2
    cache.get_or_compute(["a", "b"], compute)
    assert compute.calls[-1] == ["b"]


def test_a_call_larger_than_the_capacity_still_gets_every_row() -> None:
    cache, compute = VectorCache(2), Counting()
    texts = [f"t{i}" for i in range(7)]
    rows = cache.get_or_compute(texts, compute)
    np.testing.assert_array_equal(rows, compute(texts))
    assert len(cache) == 2


def test_capacity_zero_computes_every_time_and_empty_input_keeps_the_shape() -> None:
    cache, compute = VectorCache(0), Counting()
    cache.get_or_compute(["a"], compute)
    cache.get_or_compute(["a"], compute)
    assert compute.calls == [["a"], ["a"]] and len(cache) == 0
    assert VectorCache(5).get_or_compute([], compute).shape == (0, 2)


def test_the_embedder_returns_cached_rows_equal_to_fresh_ones(minilm) -> None:
    texts = ["Hotel nights in Berlin are capped at 180 EUR.", "Parental leave is 52 weeks."]
    fresh = minilm._encode(texts)
    minilm.embed(texts[:1], kind="passage")
    rows = minilm.embed(texts, kind="passage")  # one row cached, one computed
    np.testing.assert_allclose(rows, fresh, atol=1e-6)
    assert minilm.embed(texts, kind="passage").shape == (2, minilm.dim)


def test_embedders_of_one_model_share_their_vectors(minilm) -> None:
    """bench, eval and serve build an embedder per scenario; the second one reuses the first one's vectors."""
    from harness.config import SentenceTransformersEmbedderConfig
    from harness.pipeline.embedders import SentenceTransformersEmbedder

    other = SentenceTransformersEmbedder(SentenceTransformersEmbedderConfig(device="cpu"))
    text = "A sentence that only this test embeds, once."
    misses, hits = minilm.cache.misses, minilm.cache.hits
    first = minilm.embed([text], "passage")
    again = other.embed([text], "passage")
    assert other.cache is minilm.cache
    assert (minilm.cache.misses, minilm.cache.hits) == (misses + 1, hits + 1)
    np.testing.assert_array_equal(first, again)
    resized = SentenceTransformersEmbedder(SentenceTransformersEmbedderConfig(device="cpu", cache_size=10))
    assert resized.cache is not minilm.cache and resized.cache.capacity == 10
