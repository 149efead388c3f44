"""Process environment that keeps rag-harden offline and quiet.

Applied once, when :mod:`harness` is first imported, before any third-party library that reads these
variables is imported. ``setdefault`` is used throughout, so a user who *wants* the hub (for example
to fetch a model id they have not cached) exports the variable explicitly and wins.
"""

from __future__ import annotations

import os

OFFLINE_DEFAULTS: dict[str, str] = {
    # ragas sends usage telemetry from evaluate() unless told not to.
    "RAGAS_DO_NOT_TRACK": "true",
    # Model weights come from installed packages or local paths, never from a hub at run time.
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    # presidio's email recognizer uses tldextract, which fetches the public-suffix list unless this is empty.
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": "",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_defaults() -> None:
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)


def quiet_transformers() -> None:
    """Silence transformers' per-load progress bars and advisory warnings (call after importing it)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
