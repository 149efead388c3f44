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


def _node_line(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node reachable along a pydantic error location."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
            if match is None:
                # The key itself may be the problem (an extra field): point at the key.
                key = next((k for k, _ in node.value if getattr(k, "value", None) == str(part)), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            continue  # discriminator tags and the like are not in the document
        line = node.start_mark.line + 1
    return line


def format_validation_error(path: Path, exc: ValidationError, root: yaml.Node | None = None) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "<root>"
        line = _node_line(root, loc) if root is not None else None
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
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc, root)) from exc


__all__ = ["format_validation_error", "load_model_from_yaml"]
