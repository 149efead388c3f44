"""Guard latency per ~300-character text on this machine's CPU: p50 and p95, single calls and batched.

Run: python -m bench.guard_latency [--texts 200] [--out runs/guard-latency.json]

Variants, each adding one change to the one before, so the table says what each change gained (on the small
model, en_core_web_sm; 2.-4. are the shipped settings), then the shipped guard on the medium model:
  1. presidio-all     every predefined recognizer and entity, full spaCy pipeline (presidio's untuned setup)
  2. wanted-entities  only the recognizers for the guard's entities (PERSON, EMAIL, PHONE, CARD, IBAN, SSN,
                      IP)
  3. no-parser        the dependency parser disabled (NER and lemmas for context words kept)
  4. batched          spaCy over 16 texts at once (nlp.pipe), per-text time reported
  5. shipped-md       3. with en_core_web_md (what `spacy_model: auto` picks with the pii-md extra)
Texts are 300-character windows of the demo corpus (real prose with planted identifiers). Wall time and the
process's CPU time per text are both reported: on a shared machine the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ALL_ENTITIES = [
    "CREDIT_CARD",
    "CRYPTO",
    "DATE_TIME",
    "EMAIL_ADDRESS",
    "IBAN_CODE",
    "IP_ADDRESS",
    "LOCATION",
    "MEDICAL_LICENSE",
    "NRP",
    "ORGANIZATION",
    "PERSON",
    "PHONE_NUMBER",
    "URL",
    "US_BANK_NUMBER",
    "US_DRIVER_LICENSE",
    "US_ITIN",
    "US_PASSPORT",
    "US_SSN",
    "UK_NHS",
]


def texts(n: int, size: int = 300) -> list[str]:
    from harness.config import ChunkingConfig
    from harness.pipeline.documents import chunk_documents, load_documents

    documents = load_documents([REPO / "golden_sets" / "demo_corpus"])
    chunks = chunk_documents(documents, ChunkingConfig(size=size, overlap=0))
    out = [c.text for c in chunks if len(c.text) >= size * 0.6]
    return (out * (n // len(out) + 1))[:n]


def measure(guard, sample: list[str], batch: int = 0) -> dict[str, float]:
    guard.check(sample[0], "context")  # warm-up
    per_text: list[float] = []
    cpu_started = time.process_time()
    if batch:
        for i in range(0, len(sample), batch):
            part = sample[i : i + batch]
            t0 = time.perf_counter()
            guard.check_batch(part, "context")
            per_text += [(time.perf_counter() - t0) * 1e3 / len(part)] * len(part)
    else:
        for text in sample:
            t0 = time.perf_counter()
            guard.check(text, "context")
            per_text.append((time.perf_counter() - t0) * 1e3)
    cpu_ms = (time.process_time() - cpu_started) * 1e3 / max(len(sample), 1)
    arr = np.asarray(per_text)
    return {
        "p50_ms": float(np.percentile(arr, 50)),
        "p95_ms": float(np.percentile(arr, 95)),
        "mean_ms": float(arr.mean()),
        "cpu_ms_per_text": cpu_ms,
        "n": int(arr.size),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("runs/guard-latency.json"))
    args = parser.parse_args()

    import harness  # noqa: F401  (offline environment)
    from guards.pii import PresidioPiiGuard
    from harness.config import PiiGuardConfig
    from harness.errors import ConfigError

    sample = texts(args.texts)
    sm = "en_core_web_sm"
    variants: dict[str, tuple[PiiGuardConfig, int]] = {
        "presidio-all": (
            PiiGuardConfig(
                entities=ALL_ENTITIES,
                score_threshold=0.0,
                thresholds={},
                extended_recognizers=False,
                spacy_disable=[],
                spacy_model=sm,
            ),
            0,
        ),
        "wanted-entities": (PiiGuardConfig(spacy_disable=[], spacy_model=sm), 0),
        "no-parser": (PiiGuardConfig(spacy_model=sm), 0),
        "batched": (PiiGuardConfig(spacy_model=sm), 16),
    }
    try:
        variants["shipped-md"] = (PiiGuardConfig(spacy_model="en_core_web_md"), 0)
        from guards.pii import resolve_spacy_model

        resolve_spacy_model("en_core_web_md")
    except ConfigError:
        del variants["shipped-md"]
        print("en_core_web_md is not installed (the pii-md extra): shipped-md skipped")
    results = {}
    for name, (config, batch) in variants.items():
        results[name] = measure(PresidioPiiGuard(config), sample, batch)
        r = results[name]
        print(
            f"{name:16s} p50 {r['p50_ms']:6.2f} ms   p95 {r['p95_ms']:6.2f} ms   "
            f"mean {r['mean_ms']:6.2f} ms   cpu {r['cpu_ms_per_text']:6.2f} ms",
            flush=True,
        )
    record = {
        "benchmark": "guard_latency",
        "text_chars": 300,
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": __import__("os").cpu_count(),
        "load_average": __import__("os").getloadavg(),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
