"""The one flow of a bench run: the CLI composes the components, this module scores, writes and summarizes.

A run folder ``runs/<timestamp>/`` holds ``run.json`` (what was asked: scenario files and hashes, options),
and per scenario ``<name>/meta.json`` (pipeline and index), ``<name>/items.jsonl`` (each item appended the
moment
it is scored), ``<name>/probes.json`` (with ``<name>/direct_probes.jsonl``, one outcome per direct injection
probe) and ``<name>/load_metrics.json`` when measured, then ``report.*``.
Everything needed to rebuild the report is in the folder, so:

- an interrupt (Ctrl-C, SIGTERM) or an unexpected exception writes the partial report, marked incomplete;
- ``rag-harden bench --resume RUN_DIR`` scores only the items not scored yet (items that errored are scored
  again) and rebuilds the report;
- ``rag-harden report RUN_DIR`` rebuilds the report from the folder alone.

Files that may hold corpus text are created owner-only (0600, folders 0700).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from pydantic import BaseModel

from harness.config import Scenario, load_scenario, with_generator
from harness.errors import ConfigError
from harness.eval.retrieval import metric_ks
from harness.golden import GoldenExample, load_golden_set
from harness.paths import new_run_dir, write_private
from harness.report import write_report
from harness.results import BenchReport, ItemResult, ScenarioResult, combined_hash, new_header, now_iso
from harness.runner import BenchComponents, iter_scored
from harness.summary import ScenarioMeta, summarize_scenario, unique_items

RUN_FILE = "run.json"


class Terminated(BaseException):
    """SIGTERM (CI cancelling a job, ``docker stop``), raised in the main thread so the run ends like
    Ctrl-C."""


class Progress(Protocol):
    def advance(self) -> None: ...


class PlannedScenario(BaseModel):
    name: str
    path: str
    scenario_hash: str


class RunPlan(BaseModel):
    """``run.json``: what a run was asked to do, so it can be resumed and its report rebuilt."""

    created_at: str
    scenarios: list[PlannedScenario]
    limit: int | None = None
    generator: str | None = None


# --- files --------------------------------------------------------------------------------------------------


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


@contextmanager
def _item_sink(path: Path) -> Iterator[Callable[[ItemResult], None]]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:

        def write(item: ItemResult) -> None:
            fh.write(item.model_dump_json() + "\n")
            fh.flush()

        yield write


def read_items(path: Path) -> list[ItemResult]:
    """The items of ``items.jsonl``, one per id (the last wins); a line cut short by a crash is skipped."""
    if not path.is_file():
        return []
    items = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        try:
            items.append(ItemResult.model_validate_json(line))
        except ValueError:
            continue  # the last line of a run killed mid-write
    return unique_items(items)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


# --- signals
# ----------------------------------------------------------------------------------------------------


@contextmanager
def sigterm_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (in the main thread only; elsewhere a no-op)."""

    def handler(_signum: int, _frame: FrameType | None) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- one scenario
# -------------------------------------------------------------------------------------------------


LoadPhase = Callable[[Scenario, BenchComponents, Path], dict[str, float | None]]


def score_scenario(
    scenario: Scenario,
    scenario_path: Path,
    folder: Path,
    parts: BenchComponents,
    *,
    limit: int | None = None,
    batch_size: int = 1,
    load_phase: LoadPhase | None = None,
    progress: Callable[[int], AbstractContextManager[Progress | None]] = lambda n: nullcontext(None),
    log: Callable[[str], None] = lambda _m: None,
    record: Callable[[ScenarioResult], None] = lambda _r: None,
) -> ScenarioResult:
    """Score the golden items of ``scenario`` not yet in ``folder/items.jsonl``, run its load phase, and
    return
    its result. ``record`` receives the result however the scoring ends (also on an interrupt or an unexpected
    exception, which then propagate), so the caller can always write the report."""
    examples: list[GoldenExample] = load_golden_set(scenario.golden_set)
    if limit is not None:
        examples = examples[:limit]
    _private_dir(folder)
    items_path = folder / "items.jsonl"
    done = {it.id: it for it in read_items(items_path) if it.error is None}
    todo = [e for e in examples if e.id not in done]
    wanted = {e.id for e in examples}
    items: list[ItemResult] = [it for it in done.values() if it.id in wanted]
    started, started_at = time.time(), now_iso()
    meta = ScenarioMeta(
        name=scenario.name,
        description=scenario.description,
        scenario_path=str(scenario_path),
        scenario_hash=scenario.fingerprint(),
        golden_set=str(scenario.golden_set),
        started_at=started_at,
        n_items=len(examples),
        items_file=str(items_path),
        index=parts.index_status,
        pipeline=parts.description,
    )
    write_private(folder / "meta.json", meta.model_dump_json(indent=2))
    if parts.extra_metrics:
        write_private(folder / "probes.json", json.dumps(parts.extra_metrics, indent=2))
    if parts.probe_outcomes:  # ids, categories and signals only: no probe or answer text
        lines = "".join(o.model_dump_json() + "\n" for o in parts.probe_outcomes)
        write_private(folder / "direct_probes.jsonl", lines)
    if done:
        log(f"{scenario.name}: {len(items)} items already scored, {len(todo)} to go")
    load_metrics: dict[str, float | None] | None = None
    aborted: str | None = None
    try:
        with _item_sink(items_path) as write, progress(len(todo)) as bar:
            for item in iter_scored(
                todo, parts, metric_ks(scenario.pipeline.retriever.top_k), batch_size=batch_size, log=log
            ):
                write(item)
                items.append(item)
                if bar is not None:
                    bar.advance()
                if item.aborts_run:
                    aborted = item.error
        if scenario.load is not None and aborted is None and load_phase is not None:
            load_metrics = load_phase(scenario, parts, folder)
            write_private(folder / "load_metrics.json", json.dumps(load_metrics, indent=2))
    except KeyboardInterrupt:
        aborted = "interrupted"
        raise
    except Terminated:
        aborted = "terminated (SIGTERM)"
        raise
    except Exception as exc:
        aborted = f"unexpected error: {type(exc).__name__}"
        raise
    finally:
        result = summarize_scenario(
            scenario,
            meta,
            items,
            probe_metrics=parts.extra_metrics,
            load_metrics=load_metrics,
            aborted=aborted,
            finished_at=now_iso(),
            duration_s=round(time.time() - started, 3),
        )
        record(result)
    return result


# --- a whole run
# ---------------------------------------------------------------------------------------------------


def check_unique_names(loaded: Sequence[tuple[Path, Scenario]]) -> None:
    seen: dict[str, Path] = {}
    for path, scenario in loaded:
        if scenario.name in seen:
            raise ConfigError(
                f"{path}: field 'name': scenario name {scenario.name!r} is also the name of "
                f"{seen[scenario.name]}; names must be unique in one run (its folder is the name)"
            )
        seen[scenario.name] = path


def start_run(
    out_root: Path, loaded: Sequence[tuple[Path, Scenario]], *, limit: int | None, generator: str | None
) -> Path:
    check_unique_names(loaded)
    out_root.mkdir(parents=True, exist_ok=True)
    run_dir = new_run_dir(out_root)
    os.chmod(run_dir, 0o700)
    plan = RunPlan(
        created_at=now_iso(),
        limit=limit,
        generator=generator,
        scenarios=[
            PlannedScenario(name=s.name, path=str(p.resolve()), scenario_hash=s.fingerprint())
            for p, s in loaded
        ],
    )
    write_private(run_dir / RUN_FILE, plan.model_dump_json(indent=2))
    return run_dir


def read_plan(run_dir: Path) -> RunPlan:
    path = run_dir / RUN_FILE
    try:
        return RunPlan.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{run_dir}: not a rag-harden run folder (no {RUN_FILE})") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable run plan: {exc}") from exc


def _load_planned(plan: RunPlan, planned: PlannedScenario) -> Scenario:
    scenario = load_scenario(planned.path)
    return with_generator(scenario, plan.generator) if plan.generator else scenario


def planned_scenarios(plan: RunPlan, run_dir: Path) -> list[tuple[Path, Scenario]]:
    """The plan's scenarios, loaded again; a scenario whose file or golden set changed since is an error."""
    loaded = []
    for planned in plan.scenarios:
        path = Path(planned.path)
        scenario = _load_planned(plan, planned)
        if scenario.fingerprint() != planned.scenario_hash:
            raise ConfigError(
                f"{path}: changed since {run_dir} was started (scenario hash differs); "
                "start a new run instead of resuming this one"
            )
        loaded.append((path, scenario))
    return loaded


def new_report(loaded: Sequence[tuple[Path, Scenario]]) -> BenchReport:
    return BenchReport(**new_header(combined_hash([s.fingerprint() for _, s in loaded])))


def record_into(report: BenchReport, run_dir: Path) -> Callable[[ScenarioResult], None]:
    """A ``record`` callback: put the scenario's result into ``report`` (replacing an earlier one of the same
    name) and write the report files."""

    def record(result: ScenarioResult) -> None:
        report.scenarios = [s for s in report.scenarios if s.name != result.name] + [result]
        report.finished_at = now_iso()
        write_report(report, run_dir)

    return record


def _finished(folder: Path, scenario: Scenario, n_items: int) -> ScenarioResult | None:
    """The result of a scenario the folder already holds in full (resuming skips it), else None."""
    meta_data = _read_json(folder / "meta.json")
    if meta_data is None:
        return None
    meta = ScenarioMeta.model_validate(meta_data)
    items = read_items(folder / "items.jsonl")
    load_metrics = _read_json(folder / "load_metrics.json")
    if (
        meta.n_items != n_items
        or any(it.error for it in items)
        or len(items) < n_items
        or (scenario.load is not None and load_metrics is None)
    ):
        return None
    return summarize_scenario(
        scenario, meta, items, probe_metrics=_read_json(folder / "probes.json"), load_metrics=load_metrics
    )


def run_bench(
    run_dir: Path,
    loaded: Sequence[tuple[Path, Scenario]],
    build: Callable[[Scenario], BenchComponents],
    *,
    limit: int | None = None,
    load_phase: LoadPhase | None = None,
    progress: Callable[[str, int], AbstractContextManager[Progress | None]] = lambda name, n: nullcontext(
        None
    ),
    log: Callable[[str], None] = lambda _m: None,
) -> BenchReport:
    """Score every scenario into ``run_dir`` (resuming what the folder already holds) and return the report.
    The report files are rewritten after each scenario and whenever a scenario ends early; an interrupt
    (KeyboardInterrupt, :class:`Terminated`) or an unexpected exception propagates after that."""
    report = new_report(loaded)
    record = record_into(report, run_dir)
    for path, scenario in loaded:
        folder = run_dir / scenario.name
        n_items = len(
            load_golden_set(scenario.golden_set)[:limit] if limit else load_golden_set(scenario.golden_set)
        )
        done = _finished(folder, scenario, n_items)
        if done is not None:
            log(f"{scenario.name}: every item already scored; not run again")
            record(done)
            continue
        parts = build(scenario)
        score_scenario(
            scenario,
            path,
            folder,
            parts,
            limit=limit,
            batch_size=scenario.pipeline.batch_size,
            load_phase=load_phase,
            progress=partial(progress, scenario.name),
            log=log,
            record=record,
        )
    return report


def rebuild_report(run_dir: Path) -> BenchReport:
    """The report of a run folder, rebuilt from its plan, scenario files and scored items alone (no model
    runs)."""
    plan = read_plan(run_dir)
    loaded = [(Path(p.path), _load_planned(plan, p)) for p in plan.scenarios]
    report = new_report(loaded)
    for (_path, scenario), planned in zip(loaded, plan.scenarios, strict=True):
        folder = run_dir / planned.name
        meta_data = _read_json(folder / "meta.json")
        if meta_data is None:
            continue  # never started
        meta = ScenarioMeta.model_validate(meta_data)
        if planned.scenario_hash != scenario.fingerprint():
            meta = meta.model_copy(
                update={"description": meta.description + " (scenario file changed since)"}
            )
        items = read_items(folder / "items.jsonl")
        report.scenarios.append(
            summarize_scenario(
                scenario,
                meta,
                items,
                probe_metrics=_read_json(folder / "probes.json"),
                load_metrics=_read_json(folder / "load_metrics.json"),
                aborted=None if len(items) == meta.n_items else "incomplete: rebuilt from the items scored",
            )
        )
    report.finished_at = now_iso()
    write_report(report, run_dir)
    return report


__all__ = [
    "LoadPhase",
    "PlannedScenario",
    "RunPlan",
    "Terminated",
    "check_unique_names",
    "new_report",
    "planned_scenarios",
    "read_items",
    "read_plan",
    "rebuild_report",
    "record_into",
    "run_bench",
    "score_scenario",
    "sigterm_as_exception",
    "start_run",
]
