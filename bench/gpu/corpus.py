"""Realistically structured embedding corpora for retrieval benchmarks (never uniform random vectors).

How a corpus is made (``make_corpus``):

1. **Seed**: real all-MiniLM-L6-v2 embeddings of the demo handbook's chunks (``golden_sets/demo_corpus``,
chunk
   size 400, overlap 60), shipped as ``bench/gpu/data/minilm-demo-seed.npy`` (float16) so the GPU machine
   needs no
   model; rebuild it with ``python -m bench.gpu.corpus --make-seed`` (needs the project's environment).
2. **Topics**: ``n_topics`` centres, each a seed embedding moved along the seed's own principal directions
(top 64
   of its PCA, scaled by their standard deviations, times ``topic_spread``), so topics vary the way real text
   does.
3. **Points**: each corpus row is a topic centre plus anisotropic noise in the same principal subspace
   (``point_spread``) and a small isotropic part (``isotropic``), normalised. Queries are drawn the same way
   (new
   points, not corpus rows), so each query has near neighbours in its topic and a long tail elsewhere.
4. **768 dimensions**: the 384-d seed is lifted by a random orthonormal map (784 x 384) before steps 2-3: the
same
   geometry in a 384-d subspace, with the isotropic noise filling all 768 dimensions.

:func:`structure_stats` reports what a corpus looks like (query-to-nearest-neighbour cosine, top-10 cosine,
the
share of variance in the top 10 principal directions), next to the same figures for the real seed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SEED_FILE = Path(__file__).resolve().parent / "data" / "minilm-demo-seed.npy"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CorpusSpec:
    n_topics: int = 4096
    topic_spread: float = 0.35
    point_spread: float = 0.45
    isotropic: float = 0.015
    rank: int = 64
    seed: int = 0

    def describe(self) -> str:
        return (
            f"Gaussian mixture around real MiniLM embeddings of the demo corpus ({SEED_FILE.name}): "
            f"{self.n_topics} topics = seed + {self.topic_spread} x N(0, PCA_{self.rank}); points = topic + "
            f"{self.point_spread} x N(0, PCA_{self.rank}) + N(0, {self.isotropic}^2 I), L2-normalised; "
            f"queries drawn the same way (not corpus rows); 768-d by a random orthonormal lift; "
            f"rng seed {self.seed}"
        )


def load_seed() -> np.ndarray:
    if not SEED_FILE.is_file():
        raise FileNotFoundError(f"{SEED_FILE} is missing: run python -m bench.gpu.corpus --make-seed")
    return np.load(SEED_FILE).astype(np.float32)


def _principal(seed: torch.Tensor, rank: int) -> torch.Tensor:
    """(rank, dim): principal directions of the seed scaled by their standard deviations."""
    centred = seed - seed.mean(dim=0, keepdim=True)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    r = min(rank, vh.shape[0])
    return vh[:r] * (s[:r] / (seed.shape[0] - 1) ** 0.5).unsqueeze(1)


def _lift(seed: torch.Tensor, dim: int, gen: torch.Generator) -> torch.Tensor:
    if dim == seed.shape[1]:
        return seed
    if dim < seed.shape[1]:
        raise ValueError(f"dim {dim} is below the seed's {seed.shape[1]}")
    q, _ = torch.linalg.qr(torch.randn(dim, seed.shape[1], generator=gen))
    return seed @ q.T


class CorpusMaker:
    """Draws corpus rows and queries from one mixture (see the module docstring)."""

    def __init__(self, dim: int, spec: CorpusSpec = CorpusSpec(), device: torch.device | str = "cpu") -> None:
        self.spec, self.dim, self.device = spec, dim, torch.device(device)
        gen = torch.Generator().manual_seed(spec.seed)
        seed = _lift(torch.from_numpy(load_seed()), dim, gen)
        basis = _principal(seed, spec.rank)
        pick = torch.randint(0, seed.shape[0], (spec.n_topics,), generator=gen)
        topics = (
            seed[pick] + spec.topic_spread * torch.randn(spec.n_topics, basis.shape[0], generator=gen) @ basis
        )
        self.topics = torch.nn.functional.normalize(topics, dim=1).to(self.device)
        self.basis = basis.to(self.device)

    def draw(
        self, n: int, *, stream: int, dtype: torch.dtype = torch.float32, chunk: int = 1 << 20
    ) -> torch.Tensor:
        """``n`` L2-normalised rows on the maker's device; ``stream`` picks an independent random stream
        (corpus
        and queries use different ones)."""
        gen = torch.Generator(device=self.device).manual_seed(self.spec.seed * 1000 + stream + 1)
        out = torch.empty(n, self.dim, dtype=dtype, device=self.device)
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            topic = torch.randint(0, self.topics.shape[0], (m,), generator=gen, device=self.device)
            low = torch.randn(m, self.basis.shape[0], generator=gen, device=self.device) @ self.basis
            iso = torch.randn(m, self.dim, generator=gen, device=self.device)
            rows = self.topics[topic] + self.spec.point_spread * low + self.spec.isotropic * iso
            out[start : start + m] = torch.nn.functional.normalize(rows, dim=1).to(dtype)
        return out


def structure_stats(corpus: torch.Tensor, queries: torch.Tensor) -> dict[str, float]:
    """Cosine of each query's nearest and 10th-nearest corpus row (means), and the variance share of the top
    10
    principal directions of (a sample of) the corpus."""
    from harness.torch_search import exact_topk

    scores, _ = exact_topk(queries.float(), corpus.float(), 10)
    sample = corpus[: min(20_000, corpus.shape[0])].float()
    s = torch.linalg.svdvals(sample - sample.mean(dim=0, keepdim=True))
    var = s**2
    return {
        "nn1_cos_mean": float(scores[:, 0].mean()),
        "nn10_cos_mean": float(scores[:, -1].mean()),
        "top10_pc_variance_share": float(var[:10].sum() / var.sum()),
    }


def seed_stats() -> dict[str, float]:
    """The same figures for the real seed (each seed row against the others, itself excluded)."""
    seed = torch.from_numpy(load_seed())
    sims = seed @ seed.T
    sims.fill_diagonal_(-2.0)
    top = torch.topk(sims, 10, dim=1).values
    s = torch.linalg.svdvals(seed - seed.mean(dim=0, keepdim=True))
    var = s**2
    return {
        "nn1_cos_mean": float(top[:, 0].mean()),
        "nn10_cos_mean": float(top[:, -1].mean()),
        "top10_pc_variance_share": float(var[:10].sum() / var.sum()),
        "rows": float(seed.shape[0]),
    }


def make_seed() -> Path:
    """Embed the demo corpus' chunks with the project's default MiniLM and write the seed file."""
    from harness.config import ChunkingConfig, SentenceTransformersEmbedderConfig
    from harness.pipeline.documents import chunk_documents, load_documents
    from harness.pipeline.embedders import SentenceTransformersEmbedder

    docs = load_documents([REPO / "golden_sets" / "demo_corpus"])
    chunks = chunk_documents(docs, ChunkingConfig(size=400, overlap=60))
    embedder = SentenceTransformersEmbedder(SentenceTransformersEmbedderConfig(device="cpu"))
    vectors = embedder.embed([c.text for c in chunks], kind="passage")
    SEED_FILE.parent.mkdir(parents=True, exist_ok=True)
    np.save(SEED_FILE, vectors.astype(np.float16), allow_pickle=False)
    return SEED_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description="The retrieval benchmark's embedding generator.")
    parser.add_argument(
        "--make-seed", action="store_true", help="re-embed the demo corpus into the seed file"
    )
    args = parser.parse_args()
    if args.make_seed:
        print(make_seed())
    maker = CorpusMaker(384)
    corpus, queries = maker.draw(20_000, stream=0), maker.draw(200, stream=1)
    print("seed     ", seed_stats())
    print("generated", structure_stats(corpus, queries))


if __name__ == "__main__":
    main()


__all__ = ["CorpusMaker", "CorpusSpec", "SEED_FILE", "load_seed", "seed_stats", "structure_stats"]
