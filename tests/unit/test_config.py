from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import load_scenario, scenario_json_schema
from harness.errors import ConfigError
from harness.metrics import available_metrics, check_asserts_known

GOOD = """\
description: tiny
corpus:
  paths: [docs]
golden_set: golden.jsonl
pipeline:
  generator: {backend: extractive}
asserts:
  - {metric: retrieval.recall@5, min: 0.5}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["default", "halueval"])
def test_shipped_scenarios_load_and_their_asserts_name_real_metrics(repo: Path, name: str) -> None:
    path = repo / "scenarios" / f"{name}.yaml"
    scenario = load_scenario(path)
    assert scenario.name == name
    assert scenario.golden_set.is_file()
    assert all(p.exists() for p in scenario.corpus.paths)
    check_asserts_known(scenario, path)


def test_name_defaults_to_file_stem_and_paths_resolve_against_the_file(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD, "my-scenario.yaml"))
    assert scenario.name == "my-scenario"
    assert scenario.corpus.paths == [(tmp_path / "docs").resolve()]
    assert scenario.golden_set == (tmp_path / "golden.jsonl").resolve()
    assert scenario.pipeline.generator.backend == "extractive"


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "corpus:\n  paths: [docs\ngolden_set: x\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert "invalid YAML" in str(info.value)
    assert f"{path}:" in str(info.value)


def test_extra_field_names_file_line_and_field(tmp_path: Path) -> None:
    text = GOOD.replace("  generator: {backend: extractive}", "  generator: {backend: extractive}\n  rerankr: yes")
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert f"{path}:7" in message
    assert "pipeline.rerankr" in message


def test_unknown_backend_lists_the_valid_ones(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("backend: extractive", "backend: llamafile"))
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "pipeline.generator" in message
    assert "extractive" in message and "transformers" in message and "openai" in message


@pytest.mark.parametrize(
    "replace, field",
    [
        ("paths: [docs]", "corpus.paths"),  # replaced by an empty list below
        ("- {metric: retrieval.recall@5, min: 0.5}", "asserts.0"),
    ],
)
def test_bad_values_name_their_field(tmp_path: Path, replace: str, field: str) -> None:
    new = {"paths: [docs]": "paths: []", "- {metric: retrieval.recall@5, min: 0.5}": "- {metric: retrieval.recall@5}"}
    path = write(tmp_path, GOOD.replace(replace, new[replace]))
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert field in str(info.value)


def test_overlap_must_stay_below_half_the_chunk(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("paths: [docs]", "paths: [docs]\n  chunking: {size: 200, overlap: 150}"))
    with pytest.raises(ConfigError, match="overlap"):
        load_scenario(path)


def test_missing_file_and_non_mapping_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        load_scenario(write(tmp_path, "- just\n- a list\n"))


def test_openai_base_url_must_be_http(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("{backend: extractive}", "{backend: openai, base_url: 'ftp://x', model: m}"))
    with pytest.raises(ConfigError, match="base_url"):
        load_scenario(path)


def test_unknown_assert_metric_is_rejected_when_the_scenario_loads_with_close_matches(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("retrieval.recall@5", "retrieval.recal@5"))
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(path) in str(info.value) and "asserts.0.metric" in str(info.value)
    assert "did you mean retrieval.recall@5" in str(info.value)


def test_an_assert_on_a_metric_the_scenario_does_not_measure_says_why(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("retrieval.recall@5", "leak.rate"))
    with pytest.raises(ConfigError, match="leak metric: this scenario has no block that measures it"):
        load_scenario(path)


def test_available_metrics_follow_top_k(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD.replace("generator: {backend: extractive}",
                                                          "retriever: {top_k: 10}")))
    names = available_metrics(scenario)
    assert "retrieval.recall@10" in names and "retrieval.hit@1" in names
    assert "latency.total.p95_ms" in names and "answer.rouge_l" in names


def test_committed_schema_matches_the_model(repo: Path) -> None:
    committed = json.loads((repo / "scenarios" / "schema.json").read_text())
    assert committed == scenario_json_schema(), "run `rag-harden schema -o scenarios/schema.json`"


def test_fingerprint_changes_with_config_and_golden_set(tmp_path: Path) -> None:
    (tmp_path / "golden.jsonl").write_text('{"user_input": "q", "reference": "r"}\n')
    a = load_scenario(write(tmp_path, GOOD))
    b = load_scenario(write(tmp_path, GOOD.replace("min: 0.5", "min: 0.6"), "t.yaml"))
    assert a.fingerprint() != b.fingerprint()
    before = a.fingerprint()
    (tmp_path / "golden.jsonl").write_text('{"user_input": "q2", "reference": "r"}\n')
    assert a.fingerprint() != before
