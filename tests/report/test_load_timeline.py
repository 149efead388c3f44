"""Latency over time under load: the load phase's per-second series is written to the run folder by the load
report (bench/load), read back by the HTML report and drawn against the SLO line with offered vs achieved
rate. The records are typed request records of a made-up run that stalls for three seconds; the summary,
writer, reader and plot are the real ones."""

from __future__ import annotations

from pathlib import Path

from bench.load.report import write_load_report
from bench.load.runner import slo_checks, summarise
from bench.records import RequestRecord
from harness.config import load_scenario
from harness.report_load import read_timeline, read_timelines
from harness.report_plots import scenario_plots
from harness.results import ScenarioResult

STALL = range(5, 8)  # seconds in which the server answers slowly


def _records() -> list[RequestRecord]:
    records = []
    for i in range(40):  # 4 requests a second for 10 s
        scheduled = i / 4
        slow = int(scheduled) in STALL
        latency = 3.0 if slow else 0.2
        records.append(
            RequestRecord(
                index=i,
                scheduled_s=scheduled,
                start_s=scheduled + 0.001,
                end_s=scheduled + latency,
                status=200 if i % 10 else 503,
                success=bool(i % 10),
            )
        )
    return records


def _scenario_result(name: str) -> ScenarioResult:
    return ScenarioResult(
        name=name, scenario_path="x.yaml", scenario_hash="h", golden_set="g.jsonl", started_at="t",
        n_items=0, items_file="items.jsonl",
    )  # fmt: skip


def test_the_report_draws_latency_over_time_against_the_slo(repo: Path, tmp_path: Path) -> None:
    scenario = load_scenario(repo / "scenarios" / "load.yaml")  # slo p95 2000 ms
    records = _records()
    schedule = [r.scheduled_s for r in records]
    result = summarise(scenario, "http://127.0.0.1:1", records, schedule, 10.0, 10.0, {}, [], None)
    folder = tmp_path / "run" / "load"
    folder.mkdir(parents=True)
    write_load_report(result, slo_checks(scenario, result), folder)

    timeline = read_timeline(folder)
    assert timeline is not None and timeline.slo_ms["p95_ms"] == 2000
    assert [w.sent for w in timeline.over_time[:10]] == [4] * 10
    # achieved counts successes by their end time: the stalled requests land three seconds late
    ok = sum(w.ok or 0 for w in timeline.over_time)
    assert ok == sum(1 for r in records if r.success)
    assert (timeline.over_time[5].ok or 0) < 4 and (timeline.over_time[8].ok or 0) > 0
    assert all((w.p95_ms or 0) > 2000 for w in timeline.over_time if w.t_s in STALL)
    assert read_timelines(["load", "other"], tmp_path / "run") == {"load": timeline}

    plots = scenario_plots(_scenario_result("load"), [], 0.5, timeline)
    ((svg, caption),) = plots
    assert "p95 above the SLO 2000 ms in 3 of" in caption and "(from second 5)" in caption
    assert "offered 4.0 req/s" in caption
    for label in ("SLO p95 2000 ms", "offered (sent)", "achieved (ok)", "p50", "p95"):
        assert label in svg  # text stays text in the SVG (readable, searchable)


def test_a_run_folder_without_a_load_timeline_draws_none(tmp_path: Path) -> None:
    assert read_timeline(tmp_path) is None
    (tmp_path / "load-1").mkdir()
    (tmp_path / "load-1" / "load.json").write_text("{not json")
    assert read_timeline(tmp_path) is None  # unreadable: the report falls back to the load summary
    assert scenario_plots(_scenario_result("x"), [], 0.5, None) == []
