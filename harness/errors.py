"""Exceptions raised by rag-harden.

The hierarchy::

    HardenError                  root: catch this to handle anything rag-harden raises on purpose
    ├── ConfigError              bad scenario YAML, golden-set JSONL, corpus path or option (exit code 2)
    ├── BackendUnavailable       a model, index or HTTP endpoint that cannot be loaded or reached
    └── ScoringError             a metric that cannot be computed for the inputs it was given

Third-party exceptions are wrapped at the boundary with ``raise X(...) from exc``; callers never
branch on the text of a message.
"""

from __future__ import annotations


class HardenError(Exception):
    """Root of every exception rag-harden raises on purpose."""


class ConfigError(HardenError):
    """Invalid configuration or input data. The message names the file, and the line and field where known."""


class BackendUnavailable(HardenError):
    """A backend (model, index, endpoint) could not be loaded or reached. The message names what and where."""


class ScoringError(HardenError):
    """A metric could not be computed."""


__all__ = ["BackendUnavailable", "ConfigError", "HardenError", "ScoringError"]
