"""One tiny registry type shared by models, backbones, datasets and metric presets.

A registry is a plain dict of name -> factory plus a decorator, in the manner of timm's
``_registry.py`` but without its machinery: the names are what users type in configs.
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import typing
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T", bound=Callable[..., Any])


def did_you_mean(word: object, choices: Iterable[str], prefix: str = "") -> str:
    """``"; did you mean <prefix><nearest>?"`` for a typo of one of ``choices``, ``""`` when none is close.

    Every "unknown key" message in dbdzoo ends this way (difflib's closest match), so a typo costs one
    read of the error line.
    """
    close = difflib.get_close_matches(str(word), sorted(choices), n=1)
    return f"; did you mean {prefix}{close[0]}?" if close else ""


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


def accepted_options(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword names ``factory`` accepts, ``None`` when it takes anything (see ``option_defaults``).

    Config checks use it to name a typo key before anything is built.
    """
    defaults = option_defaults(factory)
    return None if defaults is None else set(defaults)


def option_defaults(factory: Callable[..., Any]) -> dict[str, Any] | None:
    """Keyword arguments ``factory`` accepts with their defaults (``inspect.Parameter.empty`` when required
    or unknown), ``None`` when it takes anything.

    A ``**kwargs`` function is followed to the class its return annotation names, and a class up its
    MRO until an ``__init__`` without ``**kwargs``: ``fpn(**kwargs) -> FPN`` accepts ``FPN``'s arguments.
    A factory that forwards ``**kwargs`` somewhere this cannot see declares its options as a
    ``declared_options`` attribute (their defaults unknown).
    """
    declared = getattr(factory, "declared_options", None)
    if declared is not None:
        return dict.fromkeys(declared, inspect.Parameter.empty)
    if isinstance(factory, type):
        inits = [c.__dict__["__init__"] for c in factory.__mro__ if "__init__" in c.__dict__]
    else:
        inits = [factory]
    found: dict[str, Any] = {}
    for init in inits:
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self":
                found.setdefault(p.name, p.default)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return found
    returned = returned_class(factory)
    if returned is not None and returned.__init__ is not object.__init__:
        more = option_defaults(returned)
        return None if more is None else {**more, **found}
    return None


def returned_class(factory: Callable[..., Any]) -> type | None:
    """The class a factory builds: itself for a class, else its return annotation (``None`` if unknown)."""
    if isinstance(factory, type):
        return factory
    try:
        returned = typing.get_type_hints(factory).get("return")
    except Exception:  # an annotation that does not resolve
        return None
    return returned if inspect.isclass(returned) else None
