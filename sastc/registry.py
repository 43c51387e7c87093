"""A registry of definitions by name, with the lookups every backend makes.

:mod:`sastc.neurons` (neuron models) and :mod:`sastc.synapses` (synapse ops) each keep
one. A definition is a dataclass with a ``name`` and one field per backend entry (None
where the backend lacks it); a backend asks :meth:`Registry.entry` and either gets the
implementation or a :class:`~sastc.errors.CompileError` that names the layer and lists the
definitions it does implement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sastc.errors import CompileError, ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Definitions of one ``kind`` (e.g. ``"neuron model"``) by name, in registration order;
    ``group`` (optional) tells which definitions a refusal lists beside a given one."""

    def __init__(self, kind: str, group: Callable[[T], Any] | None = None) -> None:
        self.kind = kind
        self.items: dict[str, T] = {}
        self._group = group

    def register(self, definition: T) -> T:
        """Add ``definition`` (its name must be new)."""
        name = definition.name  # type: ignore[attr-defined]
        if name in self.items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self.items[name] = definition
        return definition

    def get(self, name: str) -> T:
        """The definition called ``name``; unknown names raise :class:`ConfigError`."""
        definition = self.items.get(name)
        if definition is None:
            raise ConfigError(f"unknown {self.kind} {name!r}; registered: "
                              f"{', '.join(self.items)}")
        return definition

    def supporting(self, entry: str, group: Any = None) -> list[str]:
        """Names of the definitions (of ``group``, if given) that implement ``entry``."""
        return [name for name, definition in self.items.items()
                if getattr(definition, entry) is not None
                and (group is None or self._group is None or self._group(definition) == group)]

    def entry(self, entry: str, name: str, backend: str, layer: str) -> Any:
        """``name``'s implementation of ``entry`` for ``backend``, or a :class:`CompileError`
        naming the layer and listing what ``backend`` implements."""
        definition = self.get(name)
        value = getattr(definition, entry)
        if value is None:
            group = self._group(definition) if self._group is not None else None
            supported = ", ".join(self.supporting(entry, group)) or "none"
            raise CompileError(f"{backend}: layer {layer!r} uses {self.kind} {name!r}, which "
                               f"{backend} does not implement; supported: {supported}")
        return value
