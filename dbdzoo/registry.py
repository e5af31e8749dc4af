"""One tiny registry type shared by models, backbones, datasets and metric presets.

A registry is a plain dict of name -> factory plus a decorator, in the manner of timm's
``_registry.py`` but without its machinery: the names are what users type in configs.
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=Callable[..., Any])


class Registry(Generic[T]):
    """A named dict of factories with a ``register`` decorator and helpful lookups."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator that registers ``fn`` under ``name`` (default: its ``__name__``)."""

        def decorator(fn: T) -> T:
            key = name or fn.__name__
            if key in self._entries and self._entries[key] is not fn:
                warnings.warn(f"{self.kind} {key!r} registered twice; the later one wins", stacklevel=2)
            self._entries[key] = fn
            return fn

        return decorator

    def get(self, name: str) -> T:
        """Return the factory registered as ``name`` or raise a ``KeyError`` listing valid names."""
        try:
            return self._entries[name]
        except KeyError:
            close = fnmatch.filter(self._entries, f"*{name}*")
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise KeyError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(sorted(self._entries)) or '(none)'}.{hint}"
            ) from None

    def names(self, pattern: str = "*") -> list[str]:
        """Sorted names matching an fnmatch ``pattern``."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
