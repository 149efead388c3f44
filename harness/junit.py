"""JUnit XML for CI systems: one test case per golden item, per assert and per regression check."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from harness.eval.regression import MetricComparison
from harness.results import ItemResult, ScenarioResult


def item_failure(item: ItemResult, faithfulness_threshold: float) -> str | None:
    if item.error:
        return item.error
    if not item.answerable:
        return None if item.declined else "answered a question the corpus cannot answer"
    if item.declined:
        return "declined an answerable question"
    if item.faithfulness is not None and item.faithfulness < faithfulness_threshold:
        return f"unsupported answer (faithfulness {item.faithfulness:.2f} < {faithfulness_threshold:g})"
    return None


def write_junit(
    path: Path,
    scenario: ScenarioResult,
    items: list[ItemResult],
    comparisons: list[MetricComparison],
    faithfulness_threshold: float,
    gate_asserts: bool,
) -> None:
    suites = ET.Element("testsuites", name="rag-harden")

    def suite(name: str) -> ET.Element:
        return ET.SubElement(suites, "testsuite", name=f"{scenario.name}.{name}")

    def case(parent: ET.Element, name: str, failure: str | None, skipped: str | None = None) -> None:
        tc = ET.SubElement(parent, "testcase", classname=parent.get("name", ""), name=name)
        if failure:
            ET.SubElement(tc, "failure", message=failure[:500])
        elif skipped:
            ET.SubElement(tc, "skipped", message=skipped)

    golden = suite("golden")
    for item in items:
        case(golden, item.id, item_failure(item, faithfulness_threshold))
    asserts = suite("asserts")
    for a in scenario.asserts:
        message = None if a.passed else f"{a.metric} = {a.value} outside [{a.min}, {a.max}]"
        if message and not gate_asserts:
            case(asserts, a.metric, None, skipped=f"not gated: {message}")
        else:
            case(asserts, a.metric, message)
    if comparisons:
        regressions = suite("regressions")
        for c in comparisons:
            case(regressions, c.metric, c.reason if c.regressed else None)
    for s in suites:
        s.set("tests", str(len(s)))
        s.set("failures", str(sum(1 for tc in s if tc.find("failure") is not None)))
        s.set("skipped", str(sum(1 for tc in s if tc.find("skipped") is not None)))
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


__all__ = ["item_failure", "write_junit"]
