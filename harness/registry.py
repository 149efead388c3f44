"""A small name -> factory registry for pipeline backends (embedders, retrievers, generators)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from harness.errors import ConfigError

C = TypeVar("C")
T = TypeVar("T")


class Registry(Generic[C, T]):
    """Maps a config's ``backend`` (or other ``key``) field to the factory that builds it. Factories import heavy libraries
    themselves, so registering costs nothing and ``rag-harden --help`` stays instant."""

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

    def build(self, config: C, **deps: Any) -> T:
        """Build the backend that ``config.<key>`` names; ``deps`` (an embedder, say) go to the factory."""
        name = getattr(config, self.key)
        try:
            factory = self._factories[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} backend {name!r}; valid: {sorted(self._factories)}") from None
        return factory(config, **deps)

    def names(self) -> list[str]:
        return sorted(self._factories)


__all__ = ["Registry"]
