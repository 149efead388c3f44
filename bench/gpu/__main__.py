"""python -m bench.gpu [--quick] [--out DIR] [--parts retrieval,embedding] [--openai-url URL]: the GPU
benchmarks
without the rest of rag-harden (torch, numpy and transformers are enough; faiss and triton are used where
present)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.gpu.run import PARTS, headline_metrics, run_gpu_bench, write_result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CPU: under a minute)")
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results"), help="folder for the JSON and Markdown"
    )
    parser.add_argument("--stem", default=None, help="file name stem (default gpu-<profile>)")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}"
    )
    parser.add_argument("--openai-url", default=None, help="an OpenAI-compatible base URL to stream from")
    parser.add_argument("--openai-model", default="default")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; valid: {', '.join(PARTS)}")
    result = run_gpu_bench(
        quick=args.quick,
        parts=parts,
        openai_url=args.openai_url,
        openai_model=args.openai_model,
        device=args.device,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    paths = write_result(result, args.out, args.stem)
    for name, value in headline_metrics(result).items():
        print(f"{name} = {value:.4g}")
    print(f"wrote {paths['json']} and {paths['md']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
