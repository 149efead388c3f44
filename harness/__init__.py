"""rag-harden: measure the production gaps of a RAG system and gate on them.

The reference pipeline lives in :mod:`harness.pipeline`, scoring in :mod:`harness.eval`, scenario and
golden-set schemas in :mod:`harness.config` and :mod:`harness.golden`, and the CLI in :mod:`harness.cli`.
Heavy libraries (torch, faiss, sentence-transformers, ragas) are imported lazily inside the backends.
"""

from harness._env import apply_offline_defaults

apply_offline_defaults()

from harness.errors import BackendUnavailable, ConfigError, HardenError, ScoringError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["BackendUnavailable", "ConfigError", "HardenError", "ScoringError", "__version__"]
