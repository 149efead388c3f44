"""The ``rag-harden`` command line (Typer). Commands are thin: load, build, run, write, exit.

Exit codes: 0 every assert passed; 1 an assert failed or a run stopped early; 2 bad input, config or an
unreachable backend; 130 interrupted (the partial report is still written).
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from enum import Enum
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.console import Console

from harness.errors import BackendUnavailable, ConfigError, HardenError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n")[0])
index_app = typer.Typer(no_args_is_help=True, help="Build or inspect the persisted vector index.")
app.add_typer(index_app, name="index")
guard_app = typer.Typer(no_args_is_help=True, help="Evaluate and try the guards.")
app.add_typer(guard_app, name="guard")
err = Console(stderr=True, highlight=False)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class GeneratorChoice(str, Enum):
    extractive = "extractive"
    transformers = "transformers"


def default_scenario_path() -> Path:
    """``scenarios/default.yaml`` from the checkout, or the copy bundled in an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "scenarios" / "default.yaml", here / "_bundled" / "scenarios" / "default.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError("no scenario given and the bundled scenarios/default.yaml is missing")


def _log(message: str) -> None:
    err.print(f"[dim]rag-harden:[/dim] {message}")


@contextmanager
def _exit_on_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except BackendUnavailable as exc:
        err.print(f"[red]backend unavailable:[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except HardenError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _load(path: Path, generator: GeneratorChoice | None = None) -> Any:
    from harness.config import load_scenario

    scenario = load_scenario(path)
    if generator is not None:
        from harness.config import ExtractiveGeneratorConfig, TransformersGeneratorConfig

        cfg = {"extractive": ExtractiveGeneratorConfig, "transformers": TransformersGeneratorConfig}[generator.value]()
        scenario = scenario.model_copy(update={"pipeline": scenario.pipeline.model_copy(update={"generator": cfg})})
    return scenario


@contextmanager
def _progress_bar(label: str, total: int) -> Iterator[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task(label, total=total)
        yield SimpleNamespace(advance=lambda: bar.advance(task))


@app.command()
def bench(
    scenarios: Annotated[Optional[list[Path]], typer.Argument(help="Scenario YAML files (default: scenarios/default.yaml).")] = None,
    out_dir: Annotated[Path, typer.Option(help="Folder that receives runs/<timestamp>/.")] = Path("runs"),
    limit: Annotated[Optional[int], typer.Option(min=1, help="Score only the first N golden items.")] = None,
    generator: Annotated[Optional[GeneratorChoice], typer.Option(help="Override the scenario's generator backend.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the judge's on-disk cache.")] = False,
) -> None:
    """Run each scenario's golden set through its pipeline, score it, and write one launch-gap report."""
    from harness.compose import build_for_bench
    from harness.report import write_report
    from harness.results import BenchReport, environment_info, git_state
    from harness.runner import run_scenario

    paths = scenarios or [default_scenario_path()]
    with _exit_on_errors():
        loaded = [(p, _load(p, generator)) for p in paths]  # every file is validated before anything runs
        commit, dirty = git_state()
        report = BenchReport(created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), git_commit=commit, git_dirty=dirty,
                             environment=environment_info())
        from harness.paths import new_run_dir

        run_dir = new_run_dir(out_dir)
        _log(f"writing to {run_dir}")
        try:
            for path, scenario in loaded:
                built: dict[str, Any] = {}
                build = build_for_bench(_log, use_cache=not no_cache)
                result = run_scenario(scenario, path, run_dir / scenario.name,
                                      build=lambda sc: built.setdefault("parts", build(sc)), limit=limit,
                                      progress=partial(_progress_bar, scenario.name), log=_log)
                if scenario.load is not None and "parts" in built:
                    _load_phase(scenario, built["parts"].pipeline, result, run_dir / scenario.name)
                report.scenarios.append(result)
                write_report(report, run_dir)
        except KeyboardInterrupt as exc:
            scored = getattr(exc, "partial_result", None)
            if scored is not None:
                report.scenarios.append(scored)
            files = write_report(report, run_dir)
            err.print(f"[yellow]interrupted[/yellow]: kept what was scored in {files['json']}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
    files = write_report(report, run_dir)
    from harness.report import render_markdown

    typer.echo(render_markdown(report))
    err.print(f"report: {files['json']}  {files['md']}  {files['html']}")
    aborted = [s for s in report.scenarios if s.aborted and s.aborted != "interrupted"]
    if aborted:
        raise typer.Exit(EXIT_BAD_INPUT)
    raise typer.Exit(EXIT_OK if report.passed else EXIT_FAILED)


class GateChoice(str, Enum):
    auto = "auto"
    asserts = "asserts"
    regressions = "regressions"
    both = "both"


@app.command("eval")
def eval_(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    baseline: Annotated[Optional[Path], typer.Option(help="A report.json to compare with (e.g. from main).")] = None,
    tolerance: Annotated[float, typer.Option(min=0.0, help="Absolute drop a metric may show before it can regress.")] = 0.02,
    gate: Annotated[GateChoice, typer.Option(help="What decides the exit code (auto: regressions with a baseline, else asserts).")] = GateChoice.auto,
    out_dir: Annotated[Path, typer.Option(help="Folder that receives runs/eval-<timestamp>/.")] = Path("runs"),
    generator: Annotated[Optional[GeneratorChoice], typer.Option(help="Override the scenario's generator backend.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the judge's on-disk cache.")] = False,
) -> None:
    """Score a golden set for CI: hygiene warnings, a bootstrap regression check against a baseline, JUnit XML
    and a Markdown summary. Exit 1 when the gate fails."""
    from harness.compose import build_for_bench
    from harness.gate import run_eval
    from harness.runner import check_asserts_known

    with _exit_on_errors():
        sc = _load(scenario, generator)
        check_asserts_known(sc, scenario)
        result = run_eval(sc, scenario, build=build_for_bench(_log, use_cache=not no_cache), out_root=out_dir, baseline=baseline,
                          tolerance=tolerance, gate=gate.value, log=_log,
                          progress=partial(_progress_bar, sc.name))
    typer.echo(Path(result.summary).read_text())
    for w in result.warnings:
        err.print(f"[yellow]warning[/yellow] {w.kind} {w.item_id}: {w.detail}")
    err.print(f"report: {result.report}  junit: {result.junit}  summary: {result.summary}")
    raise typer.Exit(EXIT_OK if result.passed else EXIT_FAILED)


def _load_phase(scenario: Any, pipeline: Any, result: Any, folder: Path) -> None:
    """bench on a scenario with `load:`: serve the pipeline just scored on 127.0.0.1 (unless `load.target` names
    another endpoint), load it, and add the `load.*` metrics and asserts to the scenario's result."""
    from bench.load.report import answer_quality_scorer, write_load_report
    from bench.load.runner import run_load, slo_checks
    from harness.runner import evaluate_asserts
    from harness.serve import BackgroundServer, create_app

    _log("load phase: " + (scenario.load.target or "serving the pipeline on 127.0.0.1"))
    with BackgroundServer(create_app(scenario.serve, lambda: pipeline, load_in_background=False)) as url:
        load = run_load(scenario, target=scenario.load.target or url,
                        score_answers=answer_quality_scorer(scenario, pipeline.embedder))
    write_load_report(load, slo_checks(scenario, load), folder)
    result.metrics.update(load.metrics)
    result.asserts += evaluate_asserts(scenario, result.metrics, load=True)
    result.passed = result.complete and all(a.passed for a in result.asserts)


@index_app.command("build")
def index_build(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    force: Annotated[bool, typer.Option(help="Rebuild even when the stored index is current.")] = False,
) -> None:
    """Build the scenario's index (or confirm the stored one is current) and print where it is."""
    from harness.config import load_scenario
    from harness.pipeline.embedders import EMBEDDERS
    from harness.pipeline.index_store import open_index
    from harness.pipeline.rag import default_index_dir, load_corpus_chunks

    with _exit_on_errors():
        sc = load_scenario(scenario)
        chunks = load_corpus_chunks(sc)
        embedder = EMBEDDERS.build(sc.pipeline.embedder)
        _, status = open_index(default_index_dir(sc), chunks, embedder, sc.pipeline.retriever, force=force, log=_log)
    typer.echo(status.model_dump_json(indent=2))


@app.command()
def ask(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    question: Annotated[str, typer.Argument(help="The question to answer.")],
    top_k: Annotated[Optional[int], typer.Option(min=1, max=100)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole answer as JSON.")] = False,
    generator: Annotated[Optional[GeneratorChoice], typer.Option(help="Override the scenario's generator backend.")] = None,
) -> None:
    """Answer one question with the scenario's pipeline, with citations and stage timings."""
    from harness.compose import build_guard_chain
    from harness.pipeline.rag import build_pipeline

    with _exit_on_errors():
        sc = _load(scenario, generator)
        pipeline = build_pipeline(sc, log=_log, guards=build_guard_chain(sc))
        answer = pipeline.answer(question, top_k=top_k)
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    typer.echo(answer.answer + "\n")
    for p in answer.passages:
        mark = "*" if any(c.number == p.number for c in answer.citations) else " "
        typer.echo(f"{mark}[{p.number}] {p.doc_id} chars {p.start}-{p.end} score {p.score:.3f}")
    t = answer.timings
    typer.echo(f"\nembed {t.embed_ms:.1f} ms, search {t.search_ms:.1f} ms, generate {t.generate_ms:.1f} ms, "
               f"total {t.total_ms:.1f} ms")


@guard_app.command("eval")
def guard_eval(
    dataset: Annotated[Path, typer.Option(help="Labelled PII data (presidio-research JSONL: full_text, spans).")],
    scenario: Annotated[Optional[Path], typer.Option(help="Take the PII guard config from this scenario.")] = None,
    entities: Annotated[Optional[str], typer.Option(help="Comma-separated presidio entities to score (default: the guard's).")] = None,
    untuned: Annotated[bool, typer.Option(help="Score presidio's untuned defaults (threshold 0, no added recognizers).")] = False,
    output: Annotated[Path, typer.Option(help="Where the JSON report goes.")] = Path("runs/guard-eval.json"),
) -> None:
    """Per-entity precision, recall and F2 of the PII guard on labelled data."""
    from guards.evaluation import evaluate, render_table
    from guards.pii import PresidioPiiGuard
    from harness.config import PiiGuardConfig

    with _exit_on_errors():
        config = PiiGuardConfig()
        if scenario is not None:
            found = [g for g in _load(scenario).guards if isinstance(g, PiiGuardConfig)]
            if not found:
                raise ConfigError(f"{scenario}: no `kind: pii` guard configured")
            config = found[0]
        wanted = [e.strip() for e in entities.split(",")] if entities else None
        update: dict[str, Any] = {"entities": wanted} if wanted else {}
        if untuned:
            update.update(score_threshold=0.0, thresholds={}, extended_recognizers=False)
        config = config.model_copy(update=update)
        report = evaluate(PresidioPiiGuard(config), dataset, sorted(set(config.entities)))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.model_dump_json(indent=2))
    typer.echo(render_table(report))
    typer.echo(f"mapping (data set -> presidio; None = not scored): {report.mapping}")
    err.print(f"report: {output}")


@app.command()
def calibrate(
    dataset: Annotated[Path, typer.Option(help="HaluEval-style JSONL: knowledge, question, right_answer, hallucinated_answer.")],
    output: Annotated[Path, typer.Option(help="Where the JSON report goes.")] = Path("runs/calibration.json"),
) -> None:
    """AUROC and balanced accuracy of the offline groundedness scorer, and of ragas's non-LLM metrics as
    detectors for comparison, on labelled grounded and hallucinated answers."""
    from harness.config import SentenceTransformersEmbedderConfig
    from harness.eval.calibration import calibrate as run_calibration
    from harness.eval.calibration import render_table
    from harness.eval.groundedness import GroundednessScorer
    from harness.pipeline.embedders import EMBEDDERS

    with _exit_on_errors():
        embedder = EMBEDDERS.build(SentenceTransformersEmbedderConfig())
        scorer = GroundednessScorer(embedder)
        from ragas.metrics.collections import NonLLMStringSimilarity, RougeScore, SemanticSimilarity

        from harness.eval.answers import ragas_embeddings

        string_sim, rouge = NonLLMStringSimilarity(), RougeScore(rouge_type="rougeL", mode="precision")
        semantic = SemanticSimilarity(embeddings=ragas_embeddings(embedder))
        detectors = {
            "groundedness (rag-harden)": lambda c: 1.0 - scorer.score(c.answer, [c.context], c.question).faithfulness,
            "ragas rougeL precision": lambda c: 1.0 - rouge.score(reference=c.context, response=c.answer).value,
            "ragas string similarity": lambda c: 1.0 - string_sim.score(reference=c.context, response=c.answer).value,
            "ragas semantic similarity": lambda c: 1.0 - semantic.score(reference=c.context, response=c.answer).value,
        }
        report = run_calibration(dataset, detectors)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.model_dump_json(indent=2))
    typer.echo(render_table(report))
    err.print(f"report: {output}")


@app.command()
def serve(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file (its `serve:` block sets limits).")],
    host: Annotated[Optional[str], typer.Option(help="Bind address (default from the scenario: 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default from the scenario: 8080).")] = None,
    generator: Annotated[Optional[GeneratorChoice], typer.Option(help="Override the scenario's generator backend.")] = None,
) -> None:
    """Serve the scenario's guarded pipeline over HTTP: /v1/query, /v1/chat/completions, /healthz, /readyz, /metrics."""
    import uvicorn

    from harness.compose import build_guard_chain
    from harness.pipeline.rag import build_pipeline
    from harness.serve import create_app

    with _exit_on_errors():
        sc = _load(scenario, generator)
    app_ = create_app(sc.serve, lambda: build_pipeline(sc, log=_log, guards=build_guard_chain(sc)))
    uvicorn.run(app_, host=host or sc.serve.host, port=port if port is not None else sc.serve.port,
                log_level="info", timeout_graceful_shutdown=int(sc.serve.request_timeout_s))


@app.command()
def load(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file with a `load:` block.")],
    target: Annotated[Optional[str], typer.Option(help="Base URL to load (default: the scenario's, else the local serve).")] = None,
    out_dir: Annotated[Path, typer.Option(help="Folder that receives runs/load-<timestamp>/.")] = Path("runs"),
    workers: Annotated[int, typer.Option(min=0, max=64, help="Run locust's master and N worker processes.")] = 0,
) -> None:
    """Load-test a RAG endpoint with locust (open or closed loop) and check the latency SLOs and answer quality."""
    from bench.load.report import answer_quality_scorer, write_load_report
    from bench.load.runner import run_load, slo_checks

    with _exit_on_errors():
        sc = _load(scenario)
        if sc.load is None:
            raise ConfigError(f"{scenario}: no `load:` block")
        result = run_load(sc, target=target, score_answers=answer_quality_scorer(sc), workers=workers)
    checks = slo_checks(sc, result)
    files = write_load_report(result, checks, out_dir)
    typer.echo(files["md"].read_text())
    err.print(f"report: {files['json']}  {files['md']}")
    raise typer.Exit(EXIT_OK if all(passed for *_, passed in checks) else EXIT_FAILED)


@app.command()
def schema(
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Print the JSON schema of scenario files (scenarios/schema.json is generated from it)."""
    from harness.config import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)


def main() -> None:
    app()


__all__ = ["app", "main"]
