"""A small name -> factory registry for backends (embedders, retrievers, generators, guards, targets).

Every factory has one signature, ``factory(config, *, ctx: BuildContext) -> backend``: the config model whose
``backend`` (or other ``key``) field named it, and the already-built things it may depend on. Factories import
heavy libraries themselves, so registering costs nothing and ``rag-harden --help`` stays instant.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from harness.errors import ConfigError

C = TypeVar("C")
T = TypeVar("T")


def _no_log(_message: str) -> None:
    return None


@dataclass(frozen=True)
class BuildContext:
    """What a factory may need beyond its own config: the pipeline's embedder, a log function, and an HTTP
    transport (tests hand an ``httpx.MockTransport`` or a loopback one)."""

    embedder: Any = None
    log: Callable[[str], None] = field(default=_no_log)
    transport: Any = None


class Registry(Generic[C, T]):
    """Maps a config's ``backend`` (or other ``key``) field to the factory that builds it."""

    def __init__(self, kind: str, key: str = "backend") -> None:
        self.kind = kind
        self.key = key
        self._factories: dict[str, Callable[..., T]] = {}

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} backend {name!r} registered twice")
            self._factories[name] = factory
            return factory

        return decorator

    def factory(self, name: str) -> Callable[..., T]:
        try:
            return self._factories[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), list(self._factories), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(
                f"unknown {self.kind} backend {name!r}{hint}; valid: {sorted(self._factories)}"
            ) from None

    def build(self, config: C, ctx: BuildContext | None = None) -> T:
        """Build the backend that ``config.<key>`` names."""
        return self.factory(getattr(config, self.key))(config, ctx=ctx or BuildContext())

    def names(self) -> list[str]:
        return sorted(self._factories)


__all__ = ["BuildContext", "Registry"]
