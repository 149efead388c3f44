"""Regenerate ``docs/detectors.md``, the detector card: for each detector, what it was tuned on, its figures
with
95% intervals beside a trivial baseline on the same data, its speed, and its known weak spots.

    python -m bench.detector_card            # measure on the dev data in ../shared/benchmarks, then write the
    card
    python -m bench.detector_card --no-measure   # reassemble from the last measurement (runs/detector-card/)

The card is the three hand-written sections ``docs/detectors_{groundedness,injection,pii}.md`` (training data,
method, weak spots: prose that a measurement cannot write) under a table measured by this command in the same
run,
with the machine it ran on. The JSON of each measurement is kept under ``runs/detector-card/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("groundedness", "injection", "pii")


def _run(args: list[str]) -> None:
    print("+ rag-harden " + " ".join(args), flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=REPO,
        text=True,
        capture_output=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"rag-harden {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )


def measure(shared: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _run(
        [
            "calibrate",
            "--dataset",
            str(shared / "halueval_qa_dev.jsonl"),
            "--output",
            str(out / "calibration.json"),
        ]
    )
    for name, suffix in (("long_answers", "long"), ("llm_answers", "llm")):
        path = REPO / "golden_sets" / f"{name}.jsonl"
        if path.is_file():
            _run(["calibrate", "--dataset", str(path), "--output", str(out / f"calibration-{suffix}.json")])
    _run(
        [
            "guard",
            "eval",
            "--dataset",
            str(shared / "presidio_synth_dev.jsonl"),
            "--output",
            str(out / "pii.json"),
        ]
    )
    from guards.injection_eval import build_bipia

    bipia = out / "bipia_dev_injection.jsonl"
    build_bipia(shared, bipia)
    _run(["guard", "eval", "--injection", str(bipia), "--output", str(out / "injection.json")])


def _ci(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "n/a"
    if low is None or high is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _pair(value: float | None, ci: Any) -> str:
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return _ci(value, ci[0], ci[1])
    if isinstance(ci, dict):
        return _ci(value, ci.get("low"), ci.get("high"))
    return _ci(value, None, None)


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def summary_rows(out: Path) -> list[str]:
    rows = [
        "| detector | data (dev split, tuned on) | figure [95% CI] | trivial baseline, same data [95% CI] | "
        "speed |",
        "|---|---|---|---|---|",
    ]
    for name, label in (
        ("calibration.json", "HaluEval QA dev (pairs)"),
        ("calibration-long.json", "built multi-sentence answers (golden_sets/long_answers.jsonl)"),
        (
            "calibration-llm.json",
            "project-written LLM-style answers over news (golden_sets/llm_answers.jsonl; 75% of its articles "
            "trained on)",
        ),
    ):
        data = _load(out / name)
        if data is None:
            continue
        ours = [d for d in data["detectors"] if not d.get("baseline")]
        base = [d for d in data["detectors"] if d.get("baseline")]
        for det in ours[:1]:
            key = "_at_shipped_threshold"
            bal = _pair(det.get("balanced_accuracy" + key), det.get("balanced_accuracy" + key + "_ci"))
            spec = _pair(det.get("specificity" + key), det.get("specificity" + key + "_ci"))
            figure = (
                f"AUROC {_pair(det['auroc'], det.get('auroc_ci'))}; bal. acc. at shipped threshold {bal}; "
                f"specificity {spec}"
            )
            baselines = "; ".join(
                f"{b['detector']}: AUROC {_pair(b['auroc'], b.get('auroc_ci'))}" for b in base
            )
            rows.append(
                f"| groundedness ({det['detector']}) | {label}, {data['n_cases']} answers | {figure} | "
                f"{baselines} | {det.get('ms_per_answer', float('nan')):.1f} ms/answer |"
            )
    pii = _load(out / "pii.json")
    if pii is not None:
        base = pii["baseline"]
        rows.append(
            f"| PII (presidio, {pii.get('model')}) | presidio-research synth dev, {pii['n_texts']} texts | "
            f"F2 {_pair(pii['f2'], pii['f2_ci'])}; structured recall "
            f"{_pair(pii['structured_recall'], pii['structured_recall_ci'])} | "
            f"regex list: F2 {_pair(base['overall']['f2'], base['overall'].get('f2_ci'))} | "
            f"{pii['ms_per_text']:.1f} ms/text |"
        )
    inj = _load(out / "injection.json")
    if inj is not None:
        dets = inj["detectors"]
        main = next((d for d in dets if "keyword" not in d["detector"]), dets[0])
        kw = next((d for d in dets if "keyword" in d["detector"]), None)

        def rates(d: dict[str, Any]) -> str:
            o = d["overall"]
            dr, fp = o["detection_rate"], o["false_positive_rate"]
            return (
                f"detection {_ci(dr['value'], dr['low'], dr['high'])}, false positives "
                f"{_ci(fp['value'], fp['low'], fp['high'])}"
            )

        speed = f"{main['ms_per_item']:.2f} ms/item" if main.get("ms_per_item") else "n/a"
        rows.append(
            f"| injection ({main['detector']}) | BIPIA dev attacks planted in BIPIA dev contexts (in-sample: "
            f"see the section for leave-category-out figures), {inj['n_items']} items | {rates(main)} | "
            f"{'keyword list: ' + rates(kw) if kw else 'n/a'} | {speed} |"
        )
    return rows


def write_card(out: Path, card: Path) -> None:
    parts = [
        "# Detector card",
        "",
        "Generated by `python -m bench.detector_card` (do not edit here: edit the sections "
        "`docs/detectors_*.md` or the detectors). Every figure below was measured by that command on the "
        "development splits in `../shared/benchmarks/` (see its README) or on data this project built; the "
        "project is checked on held-out data from other sources, which it never sees. Intervals are "
        "bootstrap 95% intervals.",
        "",
        f"Measured on: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        "## Summary",
        "",
    ]
    parts += summary_rows(out)
    for section in SECTIONS:
        path = REPO / "docs" / f"detectors_{section}.md"
        if path.is_file():
            parts += ["", path.read_text(encoding="utf-8").strip()]
    card.write_text("\n".join(parts) + "\n", encoding="utf-8")
    print(f"wrote {card}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "benchmarks")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "detector-card")
    parser.add_argument("--card", type=Path, default=REPO / "docs" / "detectors.md")
    parser.add_argument("--no-measure", action="store_true", help="Reassemble from the last measurement.")
    args = parser.parse_args()
    if not args.no_measure:
        if not args.shared.is_dir():
            raise SystemExit(f"{args.shared}: the dev data is missing (see ../shared/benchmarks/README.md)")
        measure(args.shared, args.out)
    write_card(args.out, args.card)


if __name__ == "__main__":
    main()
