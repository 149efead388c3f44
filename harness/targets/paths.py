"""A small JSON path syntax for reading values out of a target's response.

Grammar: an optional ``$`` or ``$.``, then segments separated by dots; a segment is a key (any characters but
``.`` and ``[``) followed by any number of ``[n]`` (an index, negative counts from the end) or ``[*]`` (every
element). A bracket may also open the path. Examples: ``answer``, ``data.result.text``,
``choices[0].message.content``, ``contexts[*].text``, ``[0].answer``, ``sources[-1].id``.

:func:`get_one` returns the single value a path names; :func:`get_all` returns every value a path with ``[*]``
names (or the elements of the list a plain path names). A missing key or index raises :class:`PathMissing`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

_SEGMENT = re.compile(r"([^.\[\]]*)((?:\[(?:-?\d+|\*)\])*)")
_BRACKET = re.compile(r"\[(-?\d+|\*)\]")


class PathMissing(LookupError):
    """The response has nothing at the path (the message names the path and the failing step)."""


@dataclass(frozen=True)
class Step:
    key: str | None = None  # a dict key
    index: int | None = None  # a list index
    every: bool = False  # [*]


@functools.cache
def parse_path(path: str) -> tuple[Step, ...]:
    """The steps of ``path``; an invalid path raises ValueError."""
    text = path.strip()
    if text in ("", "$"):
        raise ValueError("a path names at least one key or index")
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    steps: list[Step] = []
    for i, part in enumerate(text.split(".")):
        m = _SEGMENT.fullmatch(part)
        if m is None or (not m.group(1) and not m.group(2)) or (not m.group(1) and i > 0 and not m.group(2)):
            raise ValueError(f"invalid path {path!r}: bad segment {part!r}")
        if m.group(1):
            steps.append(Step(key=m.group(1)))
        for b in _BRACKET.findall(m.group(2)):
            steps.append(Step(every=True) if b == "*" else Step(index=int(b)))
    return tuple(steps)


def _render(steps: tuple[Step, ...]) -> str:
    out = ""
    for s in steps:
        out += ("." if out else "") + s.key if s.key is not None else "[*]" if s.every else f"[{s.index}]"
    return out or "$"


def _walk(value: Any, steps: tuple[Step, ...], path: str, done: tuple[Step, ...] = ()) -> list[Any]:
    if not steps:
        return [value]
    step, rest = steps[0], steps[1:]
    here = done + (step,)
    if step.key is not None:
        if not isinstance(value, dict) or step.key not in value:
            raise PathMissing(f"path {path!r}: no key {step.key!r} at {_render(done)}")
        return _walk(value[step.key], rest, path, here)
    if not isinstance(value, list):
        raise PathMissing(f"path {path!r}: {_render(done)} is not a list")
    if step.every:
        out: list[Any] = []
        for element in value:
            out.extend(_walk(element, rest, path, here))
        return out
    assert step.index is not None
    if not -len(value) <= step.index < len(value):
        raise PathMissing(
            f"path {path!r}: index {step.index} out of range at {_render(done)} (length {len(value)})"
        )
    return _walk(value[step.index], rest, path, here)


def get_one(data: Any, path: str) -> Any:
    """The value at ``path`` (a path with ``[*]`` gives the list of matches)."""
    steps = parse_path(path)
    values = _walk(data, steps, path)
    return values if any(s.every for s in steps) else values[0]


def get_all(data: Any, path: str) -> list[Any]:
    """Every value at ``path``: the matches of a ``[*]`` path, the elements of a list, or a one-element list.
    ``null`` at the path gives an empty list."""
    value = get_one(data, path)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


__all__ = ["PathMissing", "Step", "get_all", "get_one", "parse_path"]
