"""The ``rag-harden`` command line (Typer). Commands are thin: load, build, run, write, exit.

Exit codes: 0 every assert passed; 1 an assert failed or a run stopped early; 2 bad input, config or an
unreachable backend; 130 interrupted (the partial report is still written).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from enum import Enum
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape

from harness.errors import BackendUnavailable, ConfigError, HardenError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n")[0])
index_app = typer.Typer(no_args_is_help=True, help="Build or inspect the persisted vector index.")
app.add_typer(index_app, name="index")
guard_app = typer.Typer(no_args_is_help=True, help="Evaluate and try the guards.")
app.add_typer(guard_app, name="guard")
err = Console(stderr=True, highlight=False, soft_wrap=True)  # never wrap: `file:line` must stay greppable

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


class GeneratorChoice(str, Enum):
    extractive = "extractive"
    transformers = "transformers"


def default_scenario_path() -> Path:
    """``scenarios/default.yaml`` from the checkout, or the copy bundled in an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (
        here.parent / "scenarios" / "default.yaml",
        here / "_bundled" / "scenarios" / "default.yaml",
    ):
        if candidate.is_file():
            return candidate
    raise ConfigError("no scenario given and the bundled scenarios/default.yaml is missing")


def _log(message: str) -> None:
    err.print(f"[dim]rag-harden:[/dim] {escape(message)}")


@contextmanager
def _exit_on_errors() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except BackendUnavailable as exc:
        err.print(f"[red]backend unavailable:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except HardenError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _load(path: Path, generator: GeneratorChoice | None = None) -> Any:
    from harness.config import load_scenario, with_generator

    scenario = load_scenario(path)
    return with_generator(scenario, generator.value) if generator is not None else scenario


@contextmanager
def _progress_bar(label: str, total: int) -> Iterator[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
    ) as bar:
        task = bar.add_task(label, total=total)
        yield SimpleNamespace(advance=lambda: bar.advance(task))


@app.command()
def bench(
    scenarios: Annotated[
        Optional[list[Path]], typer.Argument(help="Scenario YAML files (default: scenarios/default.yaml).")
    ] = None,
    out_dir: Annotated[Path, typer.Option(help="Folder that receives runs/<timestamp>/.")] = Path("runs"),
    limit: Annotated[Optional[int], typer.Option(min=1, help="Score only the first N golden items.")] = None,
    generator: Annotated[
        Optional[GeneratorChoice], typer.Option(help="Override the scenario's generator backend.")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the judge's on-disk cache.")] = False,
    resume: Annotated[
        Optional[Path], typer.Option(help="Continue this run folder: score only what it lacks.")
    ] = None,
) -> None:
    """Run each scenario's golden set through its pipeline, score it, and write one launch-gap report."""
    from harness import flow
    from harness.compose import build_components, load_phase, run_planted_values

    with _exit_on_errors():
        if resume is not None:
            plan = flow.read_plan(resume)
            run_dir, loaded, limit = resume, flow.planned_scenarios(plan, resume), plan.limit
        else:
            loaded = [(p, _load(p, generator)) for p in scenarios or [default_scenario_path()]]
            run_dir = flow.start_run(
                out_dir, loaded, limit=limit, generator=generator.value if generator else None
            )
        _log(f"writing to {run_dir}")
        run_values = run_planted_values([sc for _, sc in loaded])
        with _run_outcome(run_dir), flow.sigterm_as_exception():
            report = flow.run_bench(
                run_dir,
                loaded,
                lambda sc: build_components(sc, _log, use_cache=not no_cache, run_values=run_values),
                limit=limit,
                load_phase=load_phase(_log),
                progress=_progress_bar,
                log=_log,
            )
    _finish(report, run_dir)


@contextmanager
def _run_outcome(run_dir: Path) -> Iterator[None]:
    """Exit codes for a run that ends early; the partial report is already written when these propagate."""
    from harness.flow import Terminated

    try:
        yield
    except KeyboardInterrupt:
        err.print(
            f"[yellow]interrupted[/yellow]: kept what was scored in {run_dir / 'report.json'}; "
            f"continue with: rag-harden bench --resume {run_dir}"
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Terminated:
        err.print(
            f"[yellow]terminated[/yellow] (SIGTERM): kept what was scored in {run_dir / 'report.json'}; "
            f"continue with: rag-harden bench --resume {run_dir}"
        )
        raise typer.Exit(EXIT_TERMINATED) from None
    except HardenError:
        raise
    except Exception as exc:  # the message may quote user text: the type only, the partial report is kept
        err.print(
            f"[red]internal error[/red] ({type(exc).__name__}) in rag-harden; partial report in {run_dir}; "
            f"continue with: rag-harden bench --resume {run_dir}"
        )
        raise typer.Exit(EXIT_INTERNAL) from None


def _finish(report: Any, run_dir: Path) -> None:
    from harness.report import render_markdown
    from harness.report_gates import load_items

    typer.echo(render_markdown(report, load_items(report, run_dir)))
    err.print(f"report: {run_dir / 'report.json'}  {run_dir / 'report.md'}  {run_dir / 'report.html'}")
    aborted = [s for s in report.scenarios if s.aborted]
    raise typer.Exit(EXIT_BAD_INPUT if aborted else (EXIT_OK if report.passed else EXIT_FAILED))


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (runs/<timestamp>/).")],
    open_: Annotated[
        bool,
        typer.Option(
            "--open", help="Open report.html in a browser (prints its URI when no browser is available)."
        ),
    ] = False,
) -> None:
    """Rebuild a run's report (JSON, Markdown, HTML) from its folder alone: plan, scenario files, scored
    items."""
    from harness.flow import rebuild_report

    with _exit_on_errors():
        rebuilt = rebuild_report(run_dir)
    if open_:
        _open_in_browser(run_dir / "report.html")
    _finish(rebuilt, run_dir)


def _open_in_browser(path: Path) -> None:
    """Print the file's URI; open it only where a graphical session exists (never a console browser)."""
    import os
    import webbrowser

    uri = path.resolve().as_uri()
    err.print(f"report.html: {uri}")
    if sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        try:
            webbrowser.get().open(uri)
        except webbrowser.Error:
            err.print("no browser available: open the URI above")


@app.command("compare")
def compare_(
    run_a: Annotated[Path, typer.Argument(help="The baseline run folder.")],
    run_b: Annotated[Path, typer.Argument(help="The run to compare with it.")],
    out_dir: Annotated[
        Optional[Path], typer.Option("--out-dir", help="Where compare.{json,md,html} go (default: RUN_B).")
    ] = None,
    tolerance: Annotated[
        float, typer.Option(min=0.0, help="Absolute drop a metric may show before it can regress.")
    ] = 0.02,
) -> None:
    """What moved from RUN_A to RUN_B: per metric with the paired bootstrap interval, items that flipped
    pass/fail, latency per stage. Exit 1 when a metric regressed."""
    from harness.compare import compare_runs, render_markdown, write_comparison

    with _exit_on_errors():
        result = compare_runs(run_a, run_b, tolerance=tolerance)
        files = write_comparison(result, out_dir or run_b)
    typer.echo(render_markdown(result))
    err.print(f"compare: {files['json']}  {files['md']}  {files['html']}")
    raise typer.Exit(EXIT_FAILED if result.regressed else EXIT_OK)


class GateChoice(str, Enum):
    auto = "auto"
    asserts = "asserts"
    regressions = "regressions"
    both = "both"


@app.command("eval")
def eval_(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    baseline: Annotated[
        Optional[Path], typer.Option(help="A report.json to compare with (e.g. from main).")
    ] = None,
    tolerance: Annotated[
        float, typer.Option(min=0.0, help="Absolute drop a metric may show before it can regress.")
    ] = 0.02,
    gate: Annotated[
        GateChoice,
        typer.Option(help="What decides the exit code (auto: regressions with a baseline, else asserts)."),
    ] = GateChoice.auto,
    out_dir: Annotated[Path, typer.Option(help="Folder that receives runs/eval-<timestamp>/.")] = Path(
        "runs"
    ),
    generator: Annotated[
        Optional[GeneratorChoice], typer.Option(help="Override the scenario's generator backend.")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Bypass the judge's on-disk cache.")] = False,
) -> None:
    """Score a golden set for CI: hygiene warnings, a bootstrap regression check against a baseline, JUnit XML
    and a Markdown summary. Exit 1 when the gate fails."""
    from harness.compose import build_components
    from harness.gate import run_eval

    with _exit_on_errors():
        sc = _load(scenario, generator)
        result = run_eval(
            sc,
            scenario,
            build=lambda s: build_components(s, _log, use_cache=not no_cache),
            out_root=out_dir,
            baseline=baseline,
            tolerance=tolerance,
            gate=gate.value,
            log=_log,
            progress=partial(_progress_bar, sc.name),
        )
    typer.echo(Path(result.summary).read_text())
    for w in result.warnings:
        err.print(f"[yellow]warning[/yellow] {w.kind} {w.item_id}: {w.detail}")
    err.print(f"report: {result.report}  junit: {result.junit}  summary: {result.summary}")
    raise typer.Exit(EXIT_OK if result.passed else EXIT_FAILED)


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
        _, status = open_index(
            default_index_dir(sc), chunks, embedder, sc.pipeline.retriever, force=force, log=_log
        )
    typer.echo(status.model_dump_json(indent=2))


MAX_QUESTION_BYTES = 1_000_000


def _question_from(question: str | None, file: Path | None) -> str:
    """The question from the argument, stdin (``-``) or ``--file``, at most MAX_QUESTION_BYTES of UTF-8.
    Errors name the source and the limit, never the text."""
    if (question is None) == (file is None):
        raise ConfigError("give the question as an argument, `-` to read it from stdin, or --file PATH")
    if question is not None and question != "-":
        source = "the question argument"
        try:  # undecodable argv bytes arrive as surrogate escapes: turn them back into bytes, then decode
            data = question.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            raise ConfigError(f"{source}: the question is not valid Unicode") from None
    elif question == "-":
        source, data = "stdin", typer.get_binary_stream("stdin").read(MAX_QUESTION_BYTES + 1)
    else:
        assert file is not None
        source = str(file)
        try:
            with file.open("rb") as handle:
                data = handle.read(MAX_QUESTION_BYTES + 1)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(f"{file}: cannot read the question: {reason}") from None
    if len(data) > MAX_QUESTION_BYTES:
        raise ConfigError(f"{source}: the question is over {MAX_QUESTION_BYTES:,} bytes (the limit of `ask`)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: the question is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise ConfigError(f"{source}: the question is empty")
    return text


@app.command()
def ask(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    question: Annotated[Optional[str], typer.Argument(help="The question; `-` reads it from stdin.")] = None,
    file: Annotated[
        Optional[Path], typer.Option("--file", help="Read the question from a UTF-8 file.")
    ] = None,
    top_k: Annotated[Optional[int], typer.Option(min=1, max=100)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole answer as JSON.")] = False,
    generator: Annotated[
        Optional[GeneratorChoice], typer.Option(help="Override the scenario's generator backend.")
    ] = None,
) -> None:
    """Answer one question with the scenario's pipeline, with citations and stage timings. The question comes
    from the argument, from stdin (`-`) or from --file, up to 1 MB."""
    from harness.compose import build_guard_chain
    from harness.pipeline.rag import build_pipeline

    with _exit_on_errors():
        question = _question_from(question, file)
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
    typer.echo(
        f"\nembed {t.embed_ms:.1f} ms, search {t.search_ms:.1f} ms, generate {t.generate_ms:.1f} ms, "
        f"total {t.total_ms:.1f} ms"
    )


@guard_app.command("eval")
def guard_eval(
    dataset: Annotated[
        Optional[Path], typer.Option(help="Labelled PII data (presidio-research JSONL: full_text, spans).")
    ] = None,
    injection: Annotated[
        Optional[Path],
        typer.Option(
            help="Labelled injection data instead: JSONL of {text, stage: query|context, label: 0|1, "
            "source?}."
        ),
    ] = None,
    backend: Annotated[
        Optional[str],
        typer.Option(
            help="Injection guard backend: classifier, hf-classifier or patterns (default: the scenario's or "
            "classifier)."
        ),
    ] = None,
    scenario: Annotated[
        Optional[Path], typer.Option(help="Take the PII (or injection) guard config from this scenario.")
    ] = None,
    entities: Annotated[
        Optional[str], typer.Option(help="Comma-separated presidio entities to score (default: the guard's).")
    ] = None,
    untuned: Annotated[
        bool, typer.Option(help="Score presidio's untuned defaults (threshold 0, no added recognizers).")
    ] = False,
    spacy_model: Annotated[
        Optional[str],
        typer.Option(help="spaCy pipeline for the PII guard: auto, a package name or a folder."),
    ] = None,
    split: Annotated[
        str,
        typer.Option(help="PII data: all, or half a / b of the templates (tune on one, report the other)."),
    ] = "all",
    output: Annotated[Path, typer.Option(help="Where the JSON report goes.")] = Path("runs/guard-eval.json"),
) -> None:
    """PII guard on labelled data: precision, recall and F2 overall, for structured identifiers and per
    entity,
    with bootstrap 95% intervals and a regex baseline on the same texts. With --injection: the injection
    guard's
    detection and false-positive rates overall, per source and per stage, beside a keyword-list baseline."""
    if injection is not None:
        _guard_eval_injection(injection, scenario, backend, output)
        return
    if dataset is None:
        err.print("[red]error:[/red] guard eval: give --dataset (PII data) or --injection (injection data)")
        raise typer.Exit(EXIT_BAD_INPUT)
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
        if spacy_model:
            update["spacy_model"] = spacy_model
        if split not in ("all", "a", "b"):
            raise ConfigError(f"--split: {split!r} is not one of all, a, b")
        config = config.model_copy(update=update)
        report = evaluate(PresidioPiiGuard(config), dataset, sorted(set(config.entities)), split=split)  # type: ignore[arg-type]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.model_dump_json(indent=2))
    typer.echo(render_table(report))
    typer.echo(f"mapping (data set -> presidio; None = not scored): {report.mapping}")
    err.print(f"report: {output}")


def _guard_eval_injection(data: Path, scenario: Optional[Path], backend: Optional[str], output: Path) -> None:
    from guards.injection import InjectionGuard
    from guards.injection_eval import evaluate, render_table
    from harness.config import InjectionGuardConfig

    with _exit_on_errors():
        config = InjectionGuardConfig()
        if scenario is not None:
            found = [g for g in _load(scenario).guards if isinstance(g, InjectionGuardConfig)]
            if not found:
                raise ConfigError(f"{scenario}: no `kind: injection` guard configured")
            config = found[0]
        if backend is not None:
            try:
                config = InjectionGuardConfig.model_validate({**config.model_dump(), "backend": backend})
            except ValueError as exc:
                raise ConfigError(f"--backend {backend}: {exc}") from exc
        report = evaluate(
            InjectionGuard(config.model_copy(update={"action": "block"})),
            data,
            config.model_dump(mode="json"),
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.model_dump_json(indent=2))
    typer.echo(render_table(report))
    err.print(f"report: {output}")


@app.command()
def calibrate(
    dataset: Annotated[
        Path,
        typer.Option(
            help="JSONL of HaluEval-style pairs (knowledge, question, right_answer, "
            "hallucinated_answer) and/or single labelled answers (context, "
            "question?, answer, hallucinated)."
        ),
    ],
    output: Annotated[Path, typer.Option(help="Where the JSON report goes.")] = Path("runs/calibration.json"),
    nli_model: Annotated[
        Optional[Path], typer.Option(help="Also calibrate this local NLI/HHEM checkpoint.")
    ] = None,
    n_boot: Annotated[
        int, typer.Option(min=100, max=100_000, help="Bootstrap resamples for the 95% intervals.")
    ] = 1000,
) -> None:
    """AUROC, balanced accuracy and specificity at the shipped threshold of the groundedness scorer, beside
    trivial baselines on the same data (answer length, ragas ROUGE-L precision), with bootstrap 95%
    intervals."""
    from harness.eval.calibration import calibrate as run_calibration
    from harness.eval.calibration import default_detectors, render_table
    from harness.results import file_hash, new_header

    with _exit_on_errors():
        detectors = default_detectors(nli_model=nli_model, log=_log)
        report = run_calibration(dataset, detectors, new_header(file_hash(dataset)), n_boot=n_boot)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.model_dump_json(indent=2))
    typer.echo(render_table(report))
    err.print(f"report: {output}")


@app.command()
def serve(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file (its `serve:` block sets limits).")],
    host: Annotated[
        Optional[str], typer.Option(help="Bind address (default from the scenario: 127.0.0.1).")
    ] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default from the scenario: 8080).")] = None,
    generator: Annotated[
        Optional[GeneratorChoice], typer.Option(help="Override the scenario's generator backend.")
    ] = None,
    upstream: Annotated[
        Optional[str], typer.Option(help="Guard proxy in front of this OpenAI-compatible base URL (.../v1).")
    ] = None,
    upstream_model: Annotated[
        Optional[str], typer.Option(help="The upstream's model (default: the first its /v1/models lists).")
    ] = None,
) -> None:
    """Serve the scenario's guarded pipeline, or as a guard proxy its `target:` or --upstream, over HTTP:
    /v1/query, /v1/chat/completions (OpenAI-compatible), /v1/models, /healthz, /readyz, /metrics."""
    import uvicorn

    from harness.serve import create_app, exposure_warning, log_config, uvicorn_settings
    from harness.serving.proxy import serve_loader, with_upstream

    with _exit_on_errors():
        sc = _load(scenario, generator)
        sc = with_upstream(sc, upstream, upstream_model) if upstream else sc
        app_ = create_app(sc.serve, serve_loader(sc, _log), freeze_heap=True)
    bind = host or sc.serve.host
    warning = exposure_warning(bind, sc.serve)
    if warning is not None:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    uvicorn.run(
        app_,
        host=bind,
        port=port if port is not None else sc.serve.port,
        log_level="info",
        log_config=log_config("info"),
        **uvicorn_settings(app_, sc.serve),
    )


@app.command()
def load(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file with a `load:` block.")],
    target: Annotated[
        Optional[str], typer.Option(help="Base URL to load (default: the scenario's, else the local serve).")
    ] = None,
    out_dir: Annotated[Path, typer.Option(help="Folder that receives runs/load-<timestamp>/.")] = Path(
        "runs"
    ),
    workers: Annotated[
        int, typer.Option(min=0, max=64, help="Run locust's master and N worker processes.")
    ] = 0,
) -> None:
    """Load-test a RAG endpoint with locust (open or closed loop) and check the latency SLOs and answer
    quality."""
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
def gpu(
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes (on the CPU: under a minute).")] = False,
    out: Annotated[Path, typer.Option(help="Folder for gpu-<profile>.json and .md.")] = Path("bench/results"),
    parts: Annotated[
        Optional[str], typer.Option(help="Comma-separated: retrieval,embedding,generation,openai,vllm.")
    ] = None,
    openai_url: Annotated[
        Optional[str],
        typer.Option(help="OpenAI-compatible base URL to stream from (default: a loopback stub)."),
    ] = None,
    openai_model: Annotated[str, typer.Option(help="Model name sent to --openai-url.")] = "default",
) -> None:
    """GPU benchmarks against the hardware's own limits: ceilings, retrieval, embedding, generation,
    streaming."""
    from bench.gpu.run import PARTS, headline_metrics, run_gpu_bench, write_result

    chosen = [p.strip() for p in parts.split(",")] if parts else list(PARTS)
    unknown = sorted(set(chosen) - set(PARTS))
    if unknown:
        err.print(f"[red]error:[/red] --parts: unknown {unknown}; valid: {', '.join(PARTS)}")
        raise typer.Exit(EXIT_BAD_INPUT)
    result = run_gpu_bench(
        quick=quick, parts=chosen, openai_url=openai_url, openai_model=openai_model, log=_log
    )
    files = write_result(result, out)
    for name, value in headline_metrics(result).items():
        typer.echo(f"{name} = {value:.4g}")
    for part in result.parts:
        skipped = sorted(
            {r.reason for r in part.rows if r.status == "skipped"} | ({part.reason} if part.reason else set())
        )
        typer.echo(
            f"{part.name}: {part.status}, {len(part.rows)} rows"
            + (f" ({'; '.join(skipped)})" if skipped else "")
        )
    err.print(f"report: {files['json']}  {files['md']}")


@app.command()
def schema(
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON schema of scenario files (scenarios/schema.json is generated from it)."""
    from harness.config import scenario_json_schema

    text = json.dumps(scenario_json_schema(), indent=2) + "\n"
    if output:
        output.write_text(text)
    else:
        sys.stdout.write(text)


canary_app = typer.Typer(
    no_args_is_help=True, help="Canary documents for black-box leak and injection probes."
)
app.add_typer(canary_app, name="canary")


@canary_app.command("make")
def canary_make(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the documents and probe files into.")],
    seed: Annotated[int, typer.Option(help="Same seed, same files.")] = 0,
) -> None:
    """Write synthetic documents with planted fake personal data and injection instructions carrying a canary
    token, plus the matching planted-values, injection-probe and golden files; index DIR/docs into your
    system."""
    from harness.targets.canary import make_canary

    summary = make_canary(out, seed=seed)
    typer.echo(json.dumps(summary, indent=2))


def main() -> None:
    app()


__all__ = ["app", "main"]


if __name__ == "__main__":
    main()
