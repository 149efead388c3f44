"""The report as a person sees it: headless Chromium renders a real run's report.html at a laptop and a phone
size; the gate table must be on the first screen, and a failing item's drill-down must open from its link.
Skips where Chromium is not installed (``.ci/run`` installs Debian's ``chromium``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.flow import read_items
from harness.report_gates import flagged_items
from harness.results import BenchReport

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=3000",
]
SIZES = {"laptop": (1366, 768), "phone": (390, 844)}


def chromium(tmp: Path, *args: str) -> str:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"  # a fresh profile per start
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HOME": str(tmp)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _out_dir(tmp_path: Path) -> Path:
    """Screenshots go to $RAG_HARDEN_SCREENSHOTS when set (to look at them), else the test's temp folder."""
    out = Path(os.environ.get("RAG_HARDEN_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.mark.parametrize("size", list(SIZES))
def test_gate_table_is_above_the_fold(baseline_run: Path, tmp_path: Path, size: str) -> None:
    width, height = SIZES[size]
    uri = (baseline_run / "report.html").resolve().as_uri()
    png = _out_dir(tmp_path) / f"report-{size}.png"
    chromium(tmp_path, f"--screenshot={png}", f"--window-size={width},{height}", uri)
    import matplotlib.image

    pixels = matplotlib.image.imread(png)
    assert pixels.shape[:2] == (height, width)
    dom = chromium(tmp_path, "--dump-dom", f"--window-size={width},{height}", uri)
    body = re.search(r"<body[^>]*>", dom)
    assert body is not None
    top = int(re.search(r'data-first-gate-top="(\d+)"', body.group(0)).group(1))  # type: ignore[union-attr]
    bottom = int(re.search(r'data-first-gate-bottom="(\d+)"', body.group(0)).group(1))  # type: ignore[union-attr]
    viewport_h = int(re.search(r'data-viewport="\d+x(\d+)"', body.group(0)).group(1))  # type: ignore[union-attr]
    assert top < viewport_h / 2  # the verdict and the first gate start on the first half of the screen
    if size == "laptop":
        assert bottom <= viewport_h  # the whole first gate table is visible without scrolling
    # the rendered page's top half is not blank: the verdict and the gate table were painted there
    upper = pixels[: height // 2, :, :3]
    assert (upper < 0.5).mean() > 0.01


def test_failing_item_drill_down_opens_from_its_link(closed_book_run: Path, tmp_path: Path) -> None:
    report = BenchReport.model_validate_json((closed_book_run / "report.json").read_text())
    (s,) = report.scenarios
    flagged = flagged_items(s, read_items(closed_book_run / s.name / "items.jsonl"))
    assert flagged, "the closed-book run declines answerable questions: it must have failing items"
    target = flagged[-1].item.id
    uri = (closed_book_run / "report.html").resolve().as_uri() + f"#item-demo-{target}"
    dom = chromium(tmp_path, "--dump-dom", "--window-size=1366,768", uri)
    opened = re.findall(r'<details class="item[^"]*" id="item-demo-([^"]+)"[^>]*\bopen=', dom)
    assert opened == [target]
    # headless Chromium paints nothing when a screenshot starts scrolled to a fragment: a tall window shows
    # the page from the top down to the opened item instead
    png = _out_dir(tmp_path) / "drill-down.png"
    chromium(tmp_path, f"--screenshot={png}", "--window-size=1366,3000", uri)
    import matplotlib.image

    assert (matplotlib.image.imread(png)[:, :, :3] < 0.5).mean() > 0.005  # painted, not blank


def test_drill_down_filters_without_javascript(baseline_run: Path, tmp_path: Path) -> None:
    """Chromium applies the filters' CSS: with a tag's radio button checked (as a click would), only the
    items carrying that tag stay displayed. The page's own script is removed; a probe script only reads
    what the CSS did."""
    report = BenchReport.model_validate_json((baseline_run / "report.json").read_text())
    (s,) = report.scenarios
    flagged = flagged_items(s, read_items(baseline_run / s.name / "items.jsonl"))
    tags = sorted({t for f in flagged for t in f.item.tags})
    assert len(tags) >= 2, "the baseline's flagged items carry several tags"
    page = (baseline_run / "report.html").read_text()
    tag = tags[0]
    radio = re.search(rf'<label for="(ft-demo-t\d+)">{re.escape(tag)} \d+</label>', page)
    assert radio is not None
    page = page.replace(f'id="{radio.group(1)}">', f'id="{radio.group(1)}" checked>')
    page = re.sub(r"<script>.*?</script>", "", page, flags=re.S)
    probe = (
        "<script>document.body.setAttribute('data-shown',Array.from(document.querySelectorAll("
        "'details.item')).filter(function(d){return getComputedStyle(d).display!=='none'})"
        ".map(function(d){return d.id}).join(' '))</script></body>"
    )
    copy = tmp_path / "filtered.html"
    copy.write_text(page.replace("</body>", probe))
    dom = chromium(tmp_path, "--dump-dom", "--window-size=1366,768", copy.resolve().as_uri())
    shown = re.search(r'data-shown="([^"]*)"', dom)
    assert shown is not None
    assert shown.group(1).split() == [f"item-demo-{f.item.id}" for f in flagged if tag in f.item.tags]
    assert len(shown.group(1).split()) < len(flagged)
