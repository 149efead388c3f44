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
    """Create and return ``root/<prefix><timestamp>``, with ``-2``, ``-3``... when that folder already
    exists."""
    stamp = prefix + time.strftime("%Y%m%d-%H%M%S")
    run_dir, n = root / stamp, 1
    while run_dir.exists():
        n += 1
        run_dir = root / f"{stamp}-{n}"
    run_dir.mkdir(parents=True, mode=0o700)
    os.chmod(run_dir, 0o700)  # a run folder holds answers and corpus passages: owner-only, whatever the umask
    return run_dir


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file created owner-only (0600): reports and items may quote corpus passages."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


__all__ = ["cache_dir", "new_run_dir", "write_private"]
