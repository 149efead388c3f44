"""Where rag-harden keeps files between runs: converted models and persisted indexes.

``RAG_HARDEN_CACHE`` wins; else ``$XDG_CACHE_HOME/rag-harden``; else ``~/.cache/rag-harden``.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("RAG_HARDEN_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rag-harden"


__all__ = ["cache_dir"]
