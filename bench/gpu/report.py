"""Markdown of a :class:`~bench.gpu.results.GpuBenchResult`: the environment, the ceilings, a headline table,
then every part's rows with their roofline arithmetic."""

from __future__ import annotations

import math

from bench.gpu.results import GpuBenchResult, Row

# metric -> (label, the metric holding its roofline fraction)
HEADLINE_DOC: dict[str, tuple[str, str | None]] = {
    "gpu.search_b1_ms": ("exact top-10, batch 1 (ms, p50)", "gpu.search_b1_roofline"),
    "gpu.search_b1024_ms": ("exact top-10, batch 1024 (ms, p50)", "gpu.search_b1024_roofline"),
    "gpu.ann_recall@10": ("faiss HNSW recall@10", None),
    "gpu.embed_sentences_per_s": ("MiniLM-shape embedding, length 128 (sentences/s)", "gpu.embed_roofline"),
    "gpu.decode_step_ms": ("decode step, batch 1 (ms)", "gpu.decode_roofline"),
}


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def _row_line(r: Row, keys: list[str]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in r.params.items() if k not in ("device",))
    if r.status != "ok":
        return f"| {r.name} | {params} | " + " | ".join("" for _ in keys) + f" | {r.reason} |"
    vals = " | ".join(_fmt(r.metrics.get(k, float("nan"))) for k in keys)
    roof = (
        "-"
        if r.roofline is None or math.isnan(r.roofline.fraction)
        else f"{r.roofline.fraction:.3f} ({r.roofline.bound})"
    )
    return f"| {r.name} | {params} | {vals} | {roof} |"


PART_KEYS = {
    "retrieval": ["p50_ms", "p95_ms", "qps", "recall@10"],
    "embedding": ["p50_ms", "sentences_per_s", "roofline_sentences_per_s"],
    "generation": ["ms_per_step", "tokens_per_s", "roofline_ms_per_step"],
    "vllm": ["ms_per_step", "tokens_per_s"],
    "openai": ["ttft_p50_ms", "ttft_p95_ms", "tpot_p50_ms", "itl_p50_ms", "itl_p95_ms"],
}


def render_markdown(result: GpuBenchResult, headline: dict[str, float] | None = None) -> str:
    e = result.env
    out = [
        f"# rag-harden gpu: {e.device_name} ({e.profile})",
        "",
        f"{e.date} · host {e.host} · torch {e.torch} · CUDA {e.cuda} · driver {e.driver} · "
        f"triton {e.triton} · "
        f"transformers {e.transformers} · faiss {e.faiss} · Python {e.python} · "
        f"CPU {e.cpu} ({e.cpu_cores} cores)"
        f" · commit {e.git_commit}",
        "",
    ]
    if result.ceilings is not None:
        c = result.ceilings
        out += ["## Ceilings (measured in this run)", "", f"- {c.copy_arithmetic}"]
        out += [f"- {t}" for t in c.matmul_arithmetic.values()]
        out.append("")
    if headline:
        out += ["## Headline", "", "| metric | value | roofline fraction |", "|---|---|---|"]
        for name, (label, frac_key) in HEADLINE_DOC.items():
            frac = headline.get(frac_key) if frac_key else None
            out.append(
                f"| {label} (`{name}`) | {_fmt(headline.get(name, float('nan')))} | "
                f"{_fmt(frac) if frac is not None else '-'} |"
            )
        out.append("")
    if result.corpus_note:
        out += [f"Retrieval corpus: {result.corpus_note}", ""]
    for part in result.parts:
        out += [
            f"## {part.name} ({part.status}{': ' + part.reason if part.reason else ''}, "
            f"{part.seconds:.1f} s)",
            "",
        ]
        out += [f"- {n}" for n in part.notes]
        if part.notes:
            out.append("")
        if not part.rows:
            continue
        keys = PART_KEYS.get(part.name, [])
        out += ["| what | params | " + " | ".join(keys) + " | roofline |", "|---" * (len(keys) + 3) + "|"]
        out += [_row_line(r, keys) for r in part.rows]
        out += ["", "<details><summary>roofline arithmetic</summary>", ""]
        out += [
            f"- {r.name} {r.params}: {r.roofline.arithmetic}" for r in part.rows if r.roofline is not None
        ]
        out += ["", "</details>", ""]
    return "\n".join(out) + "\n"


__all__ = ["render_markdown"]
