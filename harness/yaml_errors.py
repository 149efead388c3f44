"""Turn YAML and pydantic errors into messages that name the file, the line and the field.

``load_model_from_yaml(path, Model)`` is the one entry point: it parses the file, validates it against a
pydantic model, and raises :class:`ConfigError` with ``file:line: field 'a.b.c': message`` for every
problem found, using the positions PyYAML records on its node tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def _locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[list[str], int | None]:
    """The field path as written in the document, and the 1-based line of the deepest node reached along a
    pydantic error location. Parts the document does not hold (discriminator tags such as ``faiss`` in
    ``pipeline.retriever.faiss.top_k``) are dropped; the last part stays (a missing or an extra key)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    shown: list[str] = []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                if last:
                    shown.append(str(part))
                continue  # a discriminator tag (or a missing key deeper down)
            shown.append(str(part))
            line, node = match[0].start_mark.line + 1, match[1]
            if not last:
                line = node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            shown.append(str(part))
            node = node.value[part]
            line = node.start_mark.line + 1
        elif last or node is None:
            shown.append(str(part))
    return shown, line


def duplicate_keys(root: yaml.Node | None) -> list[tuple[str, int, int]]:
    """(dotted key, first line, repeated line) for every key given twice in one mapping. PyYAML keeps the last
    silently, so a second ``asserts:`` would replace the first list without a word."""
    out: list[tuple[str, int, int]] = []

    def walk(node: yaml.Node | None, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = str(getattr(key, "value", key))
                dotted = f"{prefix}.{name}" if prefix else name
                if name in seen:
                    out.append((dotted, seen[name], key.start_mark.line + 1))
                else:
                    seen[name] = key.start_mark.line + 1
                walk(value, dotted)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, f"{prefix}.{i}" if prefix else str(i))

    walk(root, "")
    return out


def format_validation_error(path: Path, exc: ValidationError, root: yaml.Node | None = None) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        shown, line = _locate(root, loc) if root is not None else ([str(p) for p in loc], None)
        field = ".".join(shown) or "<root>"
        where = f"{path}:{line}" if line else str(path)
        lines.append(f"{where}: field '{field}': {err['msg']}")
    return "\n".join(lines)


def load_model_from_yaml(path: Path, model: type[M], context: dict[str, Any] | None = None) -> M:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from exc
    dups = duplicate_keys(root)
    if dups:
        raise ConfigError(
            "\n".join(
                f"{path}:{again}: field '{key}': duplicate key (first given on line {first}); "
                "YAML would silently keep only the last"
                for key, first, again in dups
            )
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc, root)) from exc


__all__ = ["duplicate_keys", "format_validation_error", "load_model_from_yaml"]
