"""Read JSON Lines files whose errors name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import ConfigError


def iter_jsonl(path: Path, what: str = "file") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line; anything else raises :class:`ConfigError`.

    Lines are split on ``\n`` only (a JSON string may hold a raw U+2028 or U+0085, which ``str.splitlines``
    would cut); a ``\r`` before it is dropped, and so is a UTF-8 byte-order mark at the start of the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: {what} not found") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{path}: {what} is a folder, expected a JSONL file") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror or type(exc).__name__}") from exc
    text = text.removeprefix("\ufeff")
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{lineno}: invalid JSON at column {exc.colno}: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise ConfigError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        yield lineno, row


__all__ = ["iter_jsonl"]
