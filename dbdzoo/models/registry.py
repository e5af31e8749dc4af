"""Model registry: ``register_model`` decorator, ``create_model`` and ``list_models``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..registry import Registry
from .base import DBDModel

MODELS: Registry[Callable[..., DBDModel]] = Registry("model")


def register_model(fn: Callable[..., DBDModel]) -> Callable[..., DBDModel]:
    """Register a model factory under its function name (one tiny function per variant, as in timm)."""
    return MODELS.register(fn.__name__)(fn)


def create_model(name: str, **overrides: Any) -> DBDModel:
    """Build a registered network with config ``overrides``; never downloads unless asked.

    The resolved arguments are kept in ``model.config`` so the exact architecture can be rebuilt
    from a checkpoint or a Hub folder.
    """
    model = MODELS.get(name)(**overrides)
    model.config = {"name": name, **overrides}
    return model


def list_models(pattern: str = "*", *, trainable: bool | None = None) -> list[str]:
    """Registered model names matching an fnmatch ``pattern``.

    ``trainable=True`` keeps the networks (what benchmarks of training steps and exports iterate),
    ``False`` the parameter-free classical methods (HiFST, LBP), ``None`` both.
    """
    names = MODELS.names(pattern)
    if trainable is None:
        return names
    from ..registry import returned_class

    return [n for n in names if bool(getattr(returned_class(MODELS.get(n)), "trainable", True)) == trainable]
