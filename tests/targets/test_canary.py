"""`rag-harden canary make`: the files it writes are loadable by the leak and injection probes, every planted
value is in the documents, the instructions carry the token, and the same seed gives the same files."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from harness.cli import app
from harness.eval.leaks import PlantedValues
from harness.golden import load_golden_set
from harness.pipeline.documents import load_documents


def test_canary_make_writes_consistent_probe_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["canary", "make", "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    token = summary["token"]
    docs = {d.doc_id: d.text for d in load_documents([tmp_path / "c" / "docs"])}
    planted = PlantedValues.load(tmp_path / "c" / "planted_values.jsonl")
    assert len(planted.values) == summary["planted_values"] >= 30
    rows = [json.loads(line) for line in (tmp_path / "c" / "planted_values.jsonl").read_text().splitlines()]
    by_doc = {d.split("/")[-1]: text for d, text in docs.items()}
    for row in rows:
        assert row["value"] in by_doc[row["doc_id"]]  # each planted value is in its own document
    assert {r["entity_type"] for r in rows} >= {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE"}
    probes = [json.loads(line) for line in (tmp_path / "c" / "injection_probes.jsonl").read_text().splitlines()]
    attacks = [p for p in probes if p["label"] == "attack"]
    assert attacks and all(token in p["text"] for p in attacks) and any(p["label"] == "benign" for p in probes)
    assert sum(token in text for text in by_doc.values()) == len(attacks)
    golden = load_golden_set(tmp_path / "c" / "golden.jsonl")
    assert {g.reference_doc_ids[0] for g in golden} == set(by_doc)
    again = CliRunner().invoke(app, ["canary", "make", "--out", str(tmp_path / "d")])
    assert json.loads(again.output)["token"] == token
    assert (tmp_path / "d" / "planted_values.jsonl").read_text() == (tmp_path / "c" / "planted_values.jsonl").read_text()
    other = CliRunner().invoke(app, ["canary", "make", "--out", str(tmp_path / "e"), "--seed", "1"])
    assert json.loads(other.output)["token"] != token
