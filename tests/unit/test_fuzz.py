"""Property-based tests (hypothesis): whatever a user feeds the scenario loader, the golden-set reader and the
guards, the result is a value or a ConfigError naming the file, never an unhandled exception, and no planted
personal value comes back out of a guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.config import load_scenario
from harness.errors import ConfigError
from harness.golden import load_golden_set

REPO = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=40))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                       max_leaves=12)
_keys = st.sampled_from(["name", "description", "corpus", "golden_set", "pipeline", "guards", "asserts", "serve",
                         "load", "judge", "hallucination", "leak_probe", "injection_probe", "report", "gpu",
                         "retriever", "generator", "top_k", "backend", "metric", "min", "max", "kind"])


def _base() -> dict:
    return {"corpus": {"paths": [str(REPO / "golden_sets" / "demo_corpus")]},
            "golden_set": str(REPO / "golden_sets" / "demo_golden.jsonl"),
            "pipeline": {"generator": {"backend": "extractive"}},
            "asserts": [{"metric": "retrieval.hit@5", "min": 0.9}]}


def _mutate(data: dict, path: list[str], value: object) -> dict:
    node: object = data
    for key in path[:-1]:
        if not isinstance(node, dict):
            return data
        node = node.setdefault(key, {})
    if isinstance(node, dict):
        node[path[-1]] = value
    return data


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_scenario(path)
    except ConfigError as exc:
        assert str(path) in str(exc)


@FUZZ
@given(text=st.text(max_size=300))
def test_any_text_loads_or_is_a_config_error(tmp_path: Path, text: str) -> None:
    _load(tmp_path, text)


@FUZZ
@given(path=st.lists(_keys, min_size=1, max_size=3), value=_values)
def test_any_mutation_of_a_valid_scenario_loads_or_is_a_config_error(tmp_path: Path, path: list[str],
                                                                      value: object) -> None:
    _load(tmp_path, yaml.safe_dump(_mutate(_base(), path, value), allow_unicode=True))


@FUZZ
@given(rows=st.lists(st.one_of(st.text(max_size=80), _values.map(lambda v: json.dumps(v, allow_nan=True)),
                               st.fixed_dictionaries({"id": _scalars, "user_input": _scalars},
                                                     optional={"reference": _scalars, "answerable": _scalars,
                                                               "reference_doc_ids": _values})
                               .map(json.dumps)), max_size=6))
def test_any_jsonl_reads_or_is_a_config_error_naming_the_line(tmp_path: Path, rows: list[str]) -> None:
    path = tmp_path / "golden.jsonl"
    path.write_text("\n".join(rows), encoding="utf-8", errors="surrogatepass")
    try:
        examples = load_golden_set(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
    else:
        assert all(e.user_input for e in examples)


@pytest.fixture(scope="module")
def pii_guard():
    from guards.pii import PresidioPiiGuard
    from harness.config import PiiGuardConfig

    return PresidioPiiGuard(PiiGuardConfig(entities=["EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN"]))


# Values the guard finds with no context word (checksums or unambiguous shapes); a bare SSN-shaped number is
# not among them by design (presidio scores it low without a context word such as "SSN").
_planted = st.sampled_from(["joana.sousa@quillmarklabs.com", "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32",
                            "m.ito+billing@example.org", "5500-0000-0000-0004", "SSN 536-90-4399"])
_filler = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=40, deadline=None)
@given(before=_filler, value=_planted, after=_filler, stage=st.sampled_from(["query", "context", "answer"]))
def test_the_pii_guard_never_lets_a_planted_value_through(pii_guard, before: str, value: str, after: str,
                                                          stage: str) -> None:
    text = f"{before} {value} {after}"
    value = value.removeprefix("SSN ")
    result = pii_guard.check(text, stage)
    assert value not in result.text
    assert value not in result.model_dump_json()
    assert result.action in ("redact", "block")


@pytest.fixture(scope="module")
def injection_guard():
    from guards.injection import InjectionGuard
    from harness.config import InjectionGuardConfig

    return InjectionGuard(InjectionGuardConfig())


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=400), stage=st.sampled_from(["query", "context"]))
def test_the_injection_guard_has_a_verdict_for_any_text(injection_guard, text: str, stage: str) -> None:
    result = injection_guard.check(text, stage)
    assert result.action in ("allow", "block", "redact") and result.latency_ms >= 0
    if len(text.strip()) >= 12:
        assert text not in result.model_dump_json(), "a verdict never carries the text it judged"
