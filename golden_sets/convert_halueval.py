"""Convert HaluEval QA (dev split) into a rag-harden corpus and golden set.

Source: HaluEval (RUCAIBox/HaluEval), file generation/qa/qa_one-turn_data.json, MIT License,
Copyright (c) 2020 RUCAIBox. The dev split is read from ../shared/benchmarks/halueval_qa_dev.jsonl.

Writes:
- halueval/corpus.jsonl: one document per item, its `knowledge` passage (id halueval-NNNN);
- halueval_qa.jsonl: one golden item per line: `user_input` = question, `reference` = right_answer,
  `reference_contexts` = [knowledge], `reference_doc_ids` = [its document], and the hallucinated answer
  kept in `metadata.hallucinated_answer` for calibrating hallucination detectors.

Usage: python golden_sets/convert_halueval.py [SOURCE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "benchmarks" / "halueval_qa_dev.jsonl"


def convert(source: Path, out_dir: Path = HERE) -> int:
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    (out_dir / "halueval").mkdir(exist_ok=True)
    with open(out_dir / "halueval" / "corpus.jsonl", "w", encoding="utf-8") as corpus, \
         open(out_dir / "halueval_qa.jsonl", "w", encoding="utf-8") as golden:
        for n, row in enumerate(rows):
            doc_id = f"halueval-{n:04d}"
            corpus.write(json.dumps({"id": doc_id, "text": row["knowledge"],
                                     "metadata": {"source": "HaluEval qa dev", "line": n + 1}}, ensure_ascii=False) + "\n")
            golden.write(json.dumps({
                "id": f"halueval-q{n:04d}", "user_input": row["question"], "reference": row["right_answer"],
                "reference_contexts": [row["knowledge"]], "reference_doc_ids": [doc_id], "tags": ["halueval"],
                "metadata": {"hallucinated_answer": row["hallucinated_answer"]},
            }, ensure_ascii=False) + "\n")
    return len(rows)


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    print(f"converted {convert(src)} items from {src}")
