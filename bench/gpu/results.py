"""Typed results of ``rag-harden gpu`` (plain dataclasses: the GPU machine has no pydantic), their JSON form,
and
the roofline arithmetic every row carries.

A :class:`Roofline` states the work a row had to do (bytes that must move, or floating-point operations), the
ceiling measured in the same run that bounds it (copy bandwidth or matrix-multiply rate), the ideal time that
gives, the measured time, and ``fraction = ideal / measured`` (1.0 is the hardware's limit), with the
arithmetic
written out so a reader can check it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


@dataclass
class Roofline:
    bound: str  # "memory" | "compute" | "schedule" | "n/a"
    work: float  # bytes or FLOPs (or ms for a schedule)
    unit: str  # "B" | "FLOP" | "ms"
    ceiling: float  # per second (B/s, FLOP/s); 0 for "n/a"
    ceiling_name: str
    ideal_ms: float
    measured_ms: float
    fraction: float  # ideal_ms / measured_ms
    arithmetic: str


def memory_roofline(
    nbytes: float, bandwidth: float, measured_ms: float, ceiling_name: str, what: str
) -> Roofline:
    ideal = nbytes / bandwidth * 1e3
    return Roofline(
        "memory",
        nbytes,
        "B",
        bandwidth,
        ceiling_name,
        ideal,
        measured_ms,
        ideal / measured_ms,
        f"{what} = {nbytes / 1e6:.3f} MB / {bandwidth / 1e9:.1f} GB/s ({ceiling_name}) = {ideal:.4f} ms; "
        f"measured {measured_ms:.4f} ms -> {ideal / measured_ms:.3f}",
    )


def compute_roofline(flops: float, rate: float, measured_ms: float, ceiling_name: str, what: str) -> Roofline:
    ideal = flops / rate * 1e3
    return Roofline(
        "compute",
        flops,
        "FLOP",
        rate,
        ceiling_name,
        ideal,
        measured_ms,
        ideal / measured_ms,
        f"{what} = {flops / 1e9:.3f} GFLOP / {rate / 1e12:.2f} TFLOP/s ({ceiling_name}) = {ideal:.4f} ms; "
        f"measured {measured_ms:.4f} ms -> {ideal / measured_ms:.3f}",
    )


def tighter(*lines: Roofline) -> Roofline:
    """Of several bounds on one measurement, the one with the largest ideal time (the binding one); the
    others'
    arithmetic is appended."""
    best = max(lines, key=lambda r: r.ideal_ms)
    others = "; ".join(f"[not binding: {r.arithmetic}]" for r in lines if r is not best)
    return Roofline(**{**asdict(best), "arithmetic": best.arithmetic + (f"; {others}" if others else "")})


def no_roofline(measured_ms: float, why: str) -> Roofline:
    return Roofline("n/a", 0.0, "", 0.0, "", float("nan"), measured_ms, float("nan"), why)


@dataclass
class Row:
    """One measured configuration. ``status`` is "ok", "skipped" or "error" (then ``reason`` says why)."""

    part: str
    name: str
    params: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    roofline: Roofline | None = None
    status: str = "ok"
    reason: str = ""


@dataclass
class Part:
    name: str
    status: str  # "ok" | "skipped" | "error"
    reason: str = ""
    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class Ceilings:
    device: str
    copy_bytes_per_s: float
    copy_arithmetic: str
    matmul_flops_per_s: dict[str, float]  # dtype -> FLOP/s
    matmul_arithmetic: dict[str, str]

    def bandwidth(self) -> float:
        return self.copy_bytes_per_s

    def matmul(self, dtype: str) -> tuple[float, str]:
        """The rate for ``dtype``, falling back to the best measured one (named in the second value)."""
        if dtype in self.matmul_flops_per_s:
            return self.matmul_flops_per_s[dtype], f"{dtype} matmul"
        name, rate = max(self.matmul_flops_per_s.items(), key=lambda kv: kv[1])
        return rate, f"{name} matmul"


@dataclass
class EnvInfo:
    date: str
    host: str
    device: str
    device_name: str
    driver: str
    cuda: str
    torch: str
    triton: str
    transformers: str
    faiss: str
    python: str
    cpu: str
    cpu_cores: int
    git_commit: str
    profile: str


@dataclass
class GpuBenchResult:
    env: EnvInfo
    ceilings: Ceilings | None
    parts: list[Part]
    corpus_note: str = ""
    schema_version: int = SCHEMA_VERSION

    def rows(self, part: str | None = None) -> list[Row]:
        return [r for p in self.parts if part is None or p.name == part for r in p.rows]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=_json_default, allow_nan=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return str(value)


def result_from_json(text: str) -> GpuBenchResult:
    data = json.loads(text)
    ceilings = Ceilings(**data["ceilings"]) if data.get("ceilings") else None
    parts = []
    for p in data["parts"]:
        rows = [
            Row(**{**r, "roofline": Roofline(**r["roofline"]) if r.get("roofline") else None})
            for r in p["rows"]
        ]
        parts.append(Part(**{**p, "rows": rows}))
    return GpuBenchResult(
        env=EnvInfo(**data["env"]),
        ceilings=ceilings,
        parts=parts,
        corpus_note=data.get("corpus_note", ""),
        schema_version=data.get("schema_version", 1),
    )


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # not installed (or no metadata)
        return "not installed"


def _driver() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "no nvidia-smi"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def collect_env(profile: str) -> EnvInfo:
    import torch

    cuda = torch.cuda.is_available()
    return EnvInfo(
        date=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        host=platform.node(),
        device="cuda" if cuda else "cpu",
        device_name=torch.cuda.get_device_name(0) if cuda else _cpu_name(),
        driver=_driver() if cuda else "n/a (no CUDA)",
        cuda=str(torch.version.cuda or "n/a (CPU build)"),
        torch=torch.__version__,
        triton=_version("triton"),
        transformers=_version("transformers"),
        faiss=_version("faiss-cpu")
        if _version("faiss-cpu") != "not installed"
        else _version("faiss-gpu-cu12"),
        python=platform.python_version(),
        cpu=_cpu_name(),
        cpu_cores=os.cpu_count() or 0,
        git_commit=_git_commit(),
        profile=profile,
    )


__all__ = [
    "Ceilings",
    "EnvInfo",
    "GpuBenchResult",
    "Part",
    "Roofline",
    "Row",
    "collect_env",
    "compute_roofline",
    "memory_roofline",
    "no_roofline",
    "result_from_json",
    "tighter",
]
