"""Where rag-harden keeps files between runs: converted models and persisted indexes.

``RAG_HARDEN_CACHE`` wins; else ``$XDG_CACHE_HOME/rag-harden``; else ``~/.cache/rag-harden``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("RAG_HARDEN_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rag-harden"


def new_run_dir(root: Path, prefix: str = "") -> Path:
    """Create and return ``root/<prefix><timestamp>``, with ``-2``, ``-3``... when that folder already exists."""
    stamp = prefix + time.strftime("%Y%m%d-%H%M%S")
    run_dir, n = root / stamp, 1
    while run_dir.exists():
        n += 1
        run_dir = root / f"{stamp}-{n}"
    run_dir.mkdir(parents=True)
    return run_dir


__all__ = ["cache_dir", "new_run_dir"]
