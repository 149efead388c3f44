"""Composition: build the real pipeline, guards, answer scorer and report redaction a scenario asks for.

This is the one place in ``harness`` that reaches into the ``guards`` package (lazily), like the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.config import PiiGuardConfig, Scenario
from harness.eval.answers import AnswerScorer
from harness.eval.attacks import Canary, DirectProbe, run_direct_probes
from harness.eval.groundedness import build_groundedness
from harness.eval.leaks import PlantedValues
from harness.guarding import GuardChain
from harness.pipeline.rag import RagPipeline, build_pipeline
from harness.runner import BenchComponents


def describe_pipeline(pipeline: RagPipeline, scenario: Scenario) -> dict[str, Any]:
    return {
        "embedder": pipeline.embedder.fingerprint(),
        "retriever": pipeline.config.retriever.model_dump(mode="json"),
        "generator": pipeline.generator.describe(),
        "chunking": scenario.corpus.chunking.model_dump(),
        "n_chunks": len(pipeline.chunks),
        "guards": [_public_guard_config(g) for g in scenario.guards],
    }


def _public_guard_config(config: Any) -> dict[str, Any]:
    """A guard's configuration for the report: allow and deny lists are personal data, so only their sizes."""
    data = config.model_dump(mode="json")
    if "deny_list" in data:
        data["deny_list"] = {entity: f"{len(values)} values" for entity, values in data["deny_list"].items()}
    if "allow_list" in data:
        data["allow_list"] = f"{len(data['allow_list'])} values"
    return data


def build_guard_chain(scenario: Scenario) -> GuardChain:
    if not scenario.guards:
        return GuardChain()
    from guards import build_guards

    return build_guards(scenario.guards)


def build_redactor(
    scenario: Scenario, planted_values: list[tuple[str, str]] | None = None
) -> Callable[[str], str]:
    """What questions, answers, passages and error messages pass through before they are written: presidio
    with ``report.redaction``, else the scenario's PII guard configuration, else the default one; then any
    planted test values that slipped past it."""
    if not scenario.report.redact_pii:
        return lambda text: text
    from guards.pii import PresidioPiiGuard

    pii_configs = [g for g in scenario.guards if isinstance(g, PiiGuardConfig)]
    base = scenario.report.redaction or (pii_configs[0] if pii_configs else PiiGuardConfig())
    guard = PresidioPiiGuard(base.model_copy(update={"operator": "replace", "action": "redact"}))
    patterns = [
        (entity, re.compile(re.escape(value), re.IGNORECASE)) for entity, value in planted_values or []
    ]

    def redact(text: str) -> str:
        text = guard.check(text, "answer").text
        for entity, pattern in patterns:
            text = pattern.sub(f"<{entity}>", text)
        return text

    return redact


def injection_metrics(scenario: Scenario, chain: GuardChain) -> dict[str, float]:
    if scenario.injection_probe is None:
        return {}
    from guards.injection import InjectionGuard, evaluate_probes

    guard = next((g for g in chain.guards if isinstance(g, InjectionGuard)), None)
    if guard is None:
        from harness.errors import ConfigError

        raise ConfigError(f"scenario {scenario.name}: injection_probe needs a `kind: injection` guard")
    return evaluate_probes(guard, scenario.injection_probe.probes)


def attack_probes(
    scenario: Scenario, system: Any, planted: PlantedValues | None, log: Callable[[str], None]
) -> tuple[Canary | None, dict[str, float], list[DirectProbe]]:
    """The injection probe's attacks on the system under test (harness/eval/attacks.py): the canary that
    scores each golden item's answer, and the direct probes' figures and outcomes (sent here, before the
    items)."""
    probe = scenario.injection_probe
    if probe is None:
        return None, {}, []
    canary = Canary.load(probe.canary) if probe.canary is not None else None
    if not probe.direct:
        return canary, {}, []
    metrics, outcomes = run_direct_probes(system, probe.probes, canary=canary, planted=planted, log=log)
    return canary, metrics, outcomes


def gpu_metrics(scenario: Scenario, log: Callable[[str], None]) -> dict[str, float]:
    """The ``gpu.*`` metrics of a scenario's ``gpu:`` block (bench/gpu), or none without one."""
    if getattr(scenario, "gpu", None) is None:
        return {}
    from bench.gpu import run_for_scenario

    log("gpu block: running the GPU benchmarks" + (" (quick)" if scenario.gpu.quick else ""))  # type: ignore[union-attr]
    return run_for_scenario(scenario.gpu, log)


def build_judge(scenario: Scenario, embedder: Any, use_cache: bool) -> Any:
    if scenario.judge is None:
        return None
    from harness.eval.judge import JudgeScorer

    return JudgeScorer(scenario.judge, embedder, use_cache=use_cache)


def run_planted_values(scenarios: Sequence[Scenario]) -> list[tuple[str, str]]:
    """The planted test values every ``leak_probe`` of a run declares: each scenario of the run redacts all
    of them from what it writes (scenarios of one run usually share a corpus, and a scenario without guards,
    such as the default one, would otherwise write a planted employee id of a retrieved passage verbatim)."""
    values: dict[tuple[str, str], None] = {}
    for scenario in scenarios:
        if scenario.leak_probe is not None:
            values.update(dict.fromkeys(PlantedValues.load(scenario.leak_probe.planted_values).values))
    return list(values)


def _with_run_values(
    own: list[tuple[str, str]] | None, run_values: Sequence[tuple[str, str]]
) -> list[tuple[str, str]] | None:
    merged = dict.fromkeys([*(own or []), *run_values])
    return list(merged) or None


def build_target_components(
    scenario: Scenario,
    log: Callable[[str], None],
    use_cache: bool = True,
    run_values: Sequence[tuple[str, str]] = (),
) -> BenchComponents:
    """:func:`build_components` for a scenario whose ``target:`` is an external system (harness/targets): the
    target (the scenario's guards run client-side around it), and the scorers on the scenario's embedder."""
    from harness.pipeline.embedders import EMBEDDERS
    from harness.targets import build_target

    assert scenario.target is not None
    planted = (
        PlantedValues.load(scenario.leak_probe.planted_values) if scenario.leak_probe is not None else None
    )
    redact = build_redactor(
        scenario,
        planted_values=_with_run_values(planted.values if planted is not None else None, run_values),
    )
    chain = build_guard_chain(scenario)
    target = build_target(scenario.target, redact=redact, guards=chain)
    embedder = EMBEDDERS.build(scenario.pipeline.embedder)
    target.embedder = embedder  # the load phase scores answer quality with it
    log(f"target: {scenario.target.kind} {target.url}")
    canary, attacks, outcomes = attack_probes(scenario, target, planted, log)
    return BenchComponents(
        pipeline=target,
        scorer=AnswerScorer(embedder),
        description={
            "target": target.describe(),
            "embedder": embedder.fingerprint(),
            "guards": [_public_guard_config(g) for g in scenario.guards],
        },
        redact=redact,
        planted=planted,
        extra_metrics={**injection_metrics(scenario, chain), **attacks, **gpu_metrics(scenario, log)},
        canary=canary,
        probe_outcomes=outcomes,
        groundedness=build_groundedness(scenario.hallucination, embedder, log),
        judge=build_judge(scenario, embedder, use_cache),
    )


def build_components(
    scenario: Scenario,
    log: Callable[[str], None],
    use_cache: bool = True,
    run_values: Sequence[tuple[str, str]] = (),
) -> BenchComponents:
    """Everything scoring ``scenario`` needs: the pipeline with its guards (or the scenario's external
    target),
    the scorers, report redaction, planted values for leak probes, and the injection probes' figures.
    ``run_values``: the planted values of the whole run (:func:`run_planted_values`), redacted here too."""
    if scenario.target is not None and scenario.target.kind != "pipeline":
        return build_target_components(scenario, log, use_cache, run_values)
    pipeline = build_pipeline(scenario, log=log, guards=build_guard_chain(scenario))
    planted = values = None
    if scenario.leak_probe is not None:
        planted = PlantedValues.load(scenario.leak_probe.planted_values)
        values = planted.values
    canary, attacks, outcomes = attack_probes(scenario, pipeline, planted, log)
    return BenchComponents(
        pipeline=pipeline,
        scorer=AnswerScorer(pipeline.embedder),
        description=describe_pipeline(pipeline, scenario),
        index_status=pipeline.index_status,
        redact=build_redactor(scenario, planted_values=_with_run_values(values, run_values)),
        planted=planted,
        extra_metrics={
            **injection_metrics(scenario, pipeline.guards),
            **attacks,
            **gpu_metrics(scenario, log),
        },
        canary=canary,
        probe_outcomes=outcomes,
        groundedness=build_groundedness(scenario.hallucination, pipeline.embedder, log),
        judge=build_judge(scenario, pipeline.embedder, use_cache),
    )


def load_phase(
    log: Callable[[str], None],
) -> Callable[[Scenario, BenchComponents, Path], dict[str, float | None]]:
    """bench on a scenario with ``load:``: serve the pipeline just scored on 127.0.0.1 (unless ``load.target``
    names another endpoint), load it, write the load report, and return the ``load.*`` metrics."""

    def run(scenario: Scenario, parts: BenchComponents, folder: Path) -> dict[str, float | None]:
        from bench.load.report import answer_quality_scorer, write_load_report
        from bench.load.runner import run_load, slo_checks
        from harness.serve import BackgroundServer, create_app

        assert scenario.load is not None
        pipeline: Any = parts.pipeline
        log("load phase: " + (scenario.load.target or "serving the pipeline on 127.0.0.1"))
        with BackgroundServer(create_app(scenario.serve, lambda: pipeline, load_in_background=False)) as url:
            load = run_load(
                scenario,
                target=scenario.load.target or url,
                score_answers=answer_quality_scorer(scenario, pipeline.embedder),
            )
        write_load_report(load, slo_checks(scenario, load), folder)
        return dict(load.metrics)

    return run


__all__ = [
    "attack_probes",
    "build_components",
    "build_guard_chain",
    "build_redactor",
    "run_planted_values",
    "build_target_components",
    "describe_pipeline",
    "load_phase",
]
