"""A small name -> factory registry for backends (embedders, retrievers, generators, guards, targets).

Every factory has one signature, ``factory(config, *, ctx: BuildContext) -> backend``: the config model whose
``backend`` (or other ``key``) field named it, and the already-built things it may depend on. Factories import
heavy libraries themselves, so registering costs nothing and ``rag-harden --help`` stays instant.

A registry may also own its kind's config models (``register(name, config=Model)``) and find its backends
itself: every module of a ``package`` (a backend is one file dropped there) and every entry point of an
``entry_points`` group (outside packages: ``[project.entry-points."rag_harden.retrievers"] mine =
"my_pkg.retriever"``, a module that registers itself when imported). A config field annotated with
:class:`RegistryConfig` then validates its block against the model the ``key`` names, so adding such a backend
touches its own module and nothing else.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, TypeVar, Union

from pydantic import (
    BaseModel,
    Discriminator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Tag,
    TypeAdapter,
    ValidationInfo,
)
from pydantic_core import core_schema

from harness.errors import ConfigError

C = TypeVar("C")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


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
    """Maps a config's ``backend`` (or other ``key``) field to the factory that builds it (and, where
    registered, to the config model that validates it)."""

    def __init__(
        self, kind: str, key: str = "backend", *, package: str | None = None, entry_points: str | None = None
    ) -> None:
        self.kind = kind
        self.key = key
        self.package = package
        self.entry_points = entry_points
        self._factories: dict[str, Callable[..., T]] = {}
        self._configs: dict[str, type[BaseModel]] = {}
        self._package_loaded = False

    def register(
        self, name: str, *, config: type[BaseModel] | None = None
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} backend {name!r} registered twice")
            self._factories[name] = factory
            if config is not None:
                self._configs[name] = config
            return factory

        return decorator

    def unregister(self, name: str) -> None:
        """Forget ``name`` (a plugin being unloaded; tests that register a toy backend)."""
        self._factories.pop(name, None)
        self._configs.pop(name, None)

    def _discover(self, name: str | None = None) -> None:
        """Import the package's modules (once), then the entry points not registered yet: all of them, or
        only ``name``'s."""
        if self.package is not None and not self._package_loaded:
            self._package_loaded = True
            package = importlib.import_module(self.package)
            for module in pkgutil.iter_modules(package.__path__):
                if not module.name.startswith("_"):
                    importlib.import_module(f"{self.package}.{module.name}")
        if self.entry_points is None:
            return
        for point in importlib.metadata.entry_points(group=self.entry_points):
            if point.name in self._factories or (name is not None and point.name != name):
                continue
            try:
                point.load()
            except Exception as exc:  # a broken plugin names itself instead of failing somewhere later
                raise ConfigError(
                    f"{self.kind} backend {point.name!r} (entry point {point.value!r} in group "
                    f"{self.entry_points!r}) failed to import: {exc}"
                ) from exc
            if point.name not in self._factories:
                raise ConfigError(
                    f"{self.kind} backend {point.name!r}: importing entry point {point.value!r} did not "
                    f"register it (call {self.kind.upper()}S.register({point.name!r}, config=...) in it)"
                )

    def _unknown(self, name: object) -> ConfigError:
        self._discover()
        close = difflib.get_close_matches(str(name), list(self._factories), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return ConfigError(f"unknown {self.kind} backend {name!r}{hint}; valid: {sorted(self._factories)}")

    def factory(self, name: str) -> Callable[..., T]:
        if name not in self._factories:
            self._discover(name)
        try:
            return self._factories[name]
        except KeyError:
            raise self._unknown(name) from None

    def config_model(self, name: str) -> type[BaseModel]:
        """The config model registered with ``name`` (discovering backends first)."""
        self.factory(name)
        try:
            return self._configs[name]
        except KeyError:
            raise ConfigError(f"{self.kind} backend {name!r} registered no config model") from None

    def config_models(self) -> dict[str, type[BaseModel]]:
        """Every registered config model by name (discovering backends first)."""
        self._discover()
        return dict(sorted(self._configs.items()))

    def owns(self, config: object) -> bool:
        """Whether ``config`` is an instance of the model registered under its own ``key`` (no discovery)."""
        return type(config) is self._configs.get(str(getattr(config, self.key, "")))

    def build(self, config: C, ctx: BuildContext | None = None) -> T:
        """Build the backend that ``config.<key>`` names."""
        return self.factory(getattr(config, self.key))(config, ctx=ctx or BuildContext())

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._factories)


class RegistryConfig(Generic[M]):
    """Pydantic annotation for a config field whose model is chosen by a registry at validation time,
    ``Annotated[Base, RegistryConfig(get_registry, base=Base, default="faiss")]``.
    A mapping is validated by the model its ``key`` field names (``default`` when it names none), with the
    error locations and the validation context (relative paths) kept; an unknown name lists the valid ones;
    every registered model must subclass ``base``. The JSON schema is the union of the models registered when
    it is generated. ``registry`` is a callable so that the config module need not import the backends."""

    def __init__(self, registry: Callable[[], Registry[Any, Any]], *, base: type[M], default: str) -> None:
        self.registry = registry
        self.base = base
        self.default = default

    def validate(self, value: Any, context: Any = None) -> M:
        registry = self.registry()
        if isinstance(value, self.base):
            if registry.owns(value):
                return value
            value = value.model_dump()
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping with `{registry.key}:`, got {type(value).__name__}")
        name = str(value.get(registry.key, self.default))
        try:
            model = registry.config_model(name)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if not issubclass(model, self.base):
            raise ValueError(
                f"{registry.kind} backend {name!r}: its config model {model.__name__} must subclass "
                f"{self.base.__name__}"
            )
        return model.model_validate(value, context=context)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any, info: ValidationInfo) -> BaseModel:
            return self.validate(value, info.context)

        return core_schema.with_info_plain_validator_function(validate)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> Any:
        """``oneOf`` the models registered now, and the default block (``default``'s model, all defaults)."""
        models = self.registry().config_models()
        key, default = self.registry().key, self.default
        tagged = tuple(Annotated[model, Tag(name)] for name, model in models.items())
        union: Any = Annotated[Union[tagged], Discriminator(lambda v: str(getattr(v, key, default)))]  # noqa: UP007
        out = handler(TypeAdapter(union).core_schema)
        return {"default": self.validate({}).model_dump(mode="json"), **out}


__all__ = ["BuildContext", "Registry", "RegistryConfig"]
