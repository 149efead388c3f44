"""The HTML report and the Markdown summary of a real run: self-contained, one gate table per area with
reasons written from the items, plots, a drill-down per failing
item, and an interrupted run marked incomplete."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.flow import read_items
from harness.metrics import ItemContext, item_value
from harness.report_gates import AREAS, area_gates, flagged_items
from harness.report_html import highlight
from harness.results import BenchReport

runner = CliRunner()


def _load(run_dir: Path) -> tuple[BenchReport, list]:
    report = BenchReport.model_validate_json((run_dir / "report.json").read_text())
    return report, read_items(run_dir / report.scenarios[0].name / "items.jsonl")


def test_html_is_self_contained_and_small(baseline_run: Path) -> None:
    page = (baseline_run / "report.html").read_text()
    assert len(page.encode()) < 2_000_000
    # nothing is fetched: no external script, stylesheet, image or font
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # only in-document references (SVG clip paths)
    assert page.count("<svg") >= 3  # latency per stage, faithfulness, hit@k at least


def test_one_gate_table_per_area_with_unmeasured_areas_saying_so(baseline_run: Path) -> None:
    page = (baseline_run / "report.html").read_text()
    report, _items = _load(baseline_run)
    for key, title, _groups, _needs in AREAS:
        if key == "gpu":
            assert "GPU headroom" not in page  # shown only when measured
            continue
        assert f'id="gate-demo-{key}"' in page, title
    # the default scenario has no injection probe: the area says so instead of vanishing
    section = page.split('id="gate-demo-injection"')[1].split("</table>")[0]
    assert "not measured" in section and "injection_probe" in section
    # every assert of the scenario is a row of some gate
    # an assert on a metric the run could not measure fails the run: its area says FAIL, the headline names it
    unmeasured = [a.metric for a in report.scenarios[0].asserts if a.value is None]
    assert unmeasured, "the first items of the demo set are answerable: answered_unanswerable_rate is n/a"
    for gate in area_gates(report.scenarios[0], _items):
        if any(r.metric in unmeasured for r in gate.rows):
            assert gate.status == "FAIL"
    headline = page.split("Asserted but not measured, so failing")[1].split("</p>")[0].replace("<wbr>", "")
    assert all(m in headline for m in unmeasured)
    unbroken = page.replace("<wbr>", "")
    for a in report.scenarios[0].asserts:
        assert f"<code>{a.metric}</code>" in unbroken


def test_gate_reasons_count_the_items_behind_each_metric(baseline_run: Path) -> None:
    report, items = _load(baseline_run)
    (s,) = report.scenarios
    ctx = ItemContext(faithfulness_threshold=0.85)
    rows = {r.metric: r for g in area_gates(s, items) for r in g.rows}
    hit = rows["retrieval.hit@5"]
    misses = [it.id for it in items if item_value(it, "retrieval.hit@5", ctx) == 0.0]
    counted = sum(1 for it in items if item_value(it, "retrieval.hit@5", ctx) is not None)
    assert hit.reason.startswith(f"{len(misses)} of {counted} items")
    assert list(hit.item_ids) == misses
    assert hit.status == ("PASS" if s.metrics["retrieval.hit@5"] >= 0.9 else "FAIL")  # type: ignore[operator]
    # a failing gate names its items, and each named item has a drill-down
    page = (baseline_run / "report.html").read_text()
    for row in rows.values():
        if row.status == "FAIL":
            for item_id in row.item_ids[:8]:
                assert f'id="item-demo-{item_id}"' in page


def test_every_failing_item_has_a_drill_down(baseline_run: Path) -> None:
    report, items = _load(baseline_run)
    page = (baseline_run / "report.html").read_text()
    flagged = flagged_items(report.scenarios[0], items)
    assert len(re.findall(r'<details class="item[ "]', page)) == len(flagged)
    for f in flagged:
        block = _drill_down(page, f.item.id)
        for kind in f.kinds:
            assert f'<span class="kind">{kind}</span>' in block
        for ref in f.item.retrieved:
            assert f"<code>{ref.chunk_id}</code>" in block
        if f.item.unsupported_claims:
            assert "<mark>" in block and "closest passage sentence" in block


def _drill_down(page: str, item_id: str) -> str:
    """The HTML of one item's drill-down (its passages are nested <details>: cut at the item's own end)."""
    return page.split(f'id="item-demo-{item_id}"')[1].split("back to the gates")[0]


def test_drill_down_shows_the_passages_redacted_cited_first(baseline_run: Path, repo: Path) -> None:
    report, items = _load(baseline_run)
    page = (baseline_run / "report.html").read_text()
    flagged = flagged_items(report.scenarios[0], items)
    assert flagged
    for f in flagged:
        block = _drill_down(page, f.item.id).replace("<mark>", "").replace("</mark>", "")
        refs = f.item.retrieved
        assert refs and all(r.text for r in refs)  # every retrieved passage is stored with its text
        assert [r.cited for r in refs] == [r.number in _cited_numbers(f.item.answer or "") for r in refs]
        shown = re.findall(r'<details class="passage( cited)?"', block)
        assert len(shown) == len(refs)
        assert shown == sorted(shown, reverse=True)  # cited ones first
        for r in refs:
            assert html.escape(r.text.splitlines()[-1]) in block  # type: ignore[union-attr]
    # the corpus names the founders in handbook/welcome.md; the report's redaction (the PII guard's) replaced
    # them before the passages were written to items.jsonl, and so the report never shows them
    raw = (repo / "golden_sets/demo_corpus/handbook/welcome.md").read_text()
    founders = re.findall(r"(?:by|and) ([A-Z]\w+ [A-Z][\w-]+) \(chief", raw)
    assert len(founders) == 2
    welcome = [r for it in items for r in it.retrieved if r.chunk_id == "handbook/welcome#0"]
    assert welcome and all("<PERSON>" in (r.text or "") for r in welcome)
    stored = (baseline_run / "demo" / "items.jsonl").read_text()
    for name in founders:
        assert name not in stored and name not in page


def _cited_numbers(answer: str) -> set[int]:
    return {int(n) for group in re.findall(r"\[(\d+(?:,\s*\d+)*)\]", answer) for n in group.split(",")}


def test_drill_down_filters_work_without_javascript(baseline_run: Path) -> None:
    """One radio button per failure kind and tag, and a CSS rule per button that hides the items without
    its class; every item carries the classes of its kinds and tags (Chromium applies them in
    test_screenshot)."""
    report, items = _load(baseline_run)
    page = (baseline_run / "report.html").read_text()
    flagged = flagged_items(report.scenarios[0], items)
    labels = dict(re.findall(r'<label for="(f[kt]-demo-[kt]\d+)">(.+?) \d+</label>', page))
    assert set(labels.values()) == {k for f in flagged for k in f.kinds} | {
        t for f in flagged for t in f.item.tags
    }
    for radio, value in labels.items():
        cls = radio.rsplit("-", 1)[1]
        assert f'<input type="radio" class="vh" name="{radio.rsplit("-", 1)[0]}" id="{radio}">' in page
        assert f'[id="{radio}"]:checked~.items details.item:not(.{cls}){{display:none}}' in page
        for f in flagged:
            classes = re.search(f'<details class="item ([^"]*)" id="item-demo-{f.item.id}"', page)
            assert classes is not None
            assert (cls in classes.group(1).split()) == (value in f.kinds or value in f.item.tags)
    script = page.split("<script>")[1]
    assert "filter" not in script  # no script filters


def test_highlight_marks_claims_and_escapes_the_rest() -> None:
    answer = "Hotels cost <b>150 EUR</b>. Berlin is 180 EUR. [1]"
    out = highlight(answer, ["Berlin is 180 EUR.", "not in the answer"])
    assert out == "Hotels cost &lt;b&gt;150 EUR&lt;/b&gt;. <mark>Berlin is 180 EUR.</mark> [1]"


def test_markdown_summary_has_the_gate_table_and_top_items(baseline_run: Path) -> None:
    md = (baseline_run / "report.md").read_text()
    report, items = _load(baseline_run)
    assert "| area | metric | result | value | threshold | why |" in md
    assert "| Prompt injection | | not measured |" in md
    flagged = flagged_items(report.scenarios[0], items)
    if flagged:
        assert f"- `{flagged[0].item.id}` ({', '.join(flagged[0].kinds)})" in md


def test_report_rerenders_an_interrupted_run_marked_incomplete(
    baseline_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    shutil.copytree(baseline_run, run)
    folder = run / "demo"
    lines = (folder / "items.jsonl").read_text().splitlines()
    (folder / "items.jsonl").write_text(
        "\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2]
    )  # cut mid-line
    (run / "report.html").unlink()
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = runner.invoke(app, ["report", str(run), "--open"])
    assert result.exit_code == 2, result.output  # stopped early
    assert (run / "report.html").resolve().as_uri() in result.output  # --open without a browser: the URI
    page = (run / "report.html").read_text()
    assert "INCOMPLETE" in page and "scored 3 of" in page
    assert "**INCOMPLETE**" in (run / "report.md").read_text()
