"""Model registry: ``register_model``, ``build_model`` (architecture only) and timm's ``name.tag`` split.

The user-facing ``dbdzoo.create_model`` / ``dbdzoo.list_models`` (``dbdzoo.zoo``) sit above this and the
hub; library code that needs a bare network (engine, benchmarks, converters, the hub's rebuild) calls
``build_model``, which never touches weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..registry import Registry, returned_class
from .base import DBDModel

MODELS: Registry[Callable[..., DBDModel]] = Registry("model")


def register_model(fn: Callable[..., DBDModel]) -> Callable[..., DBDModel]:
    """Register a model factory under its function name (one tiny function per variant, as in timm)."""
    return MODELS.register(fn.__name__)(fn)


def build_model(name: str, **kwargs: Any) -> DBDModel:
    """The registered network ``name`` with architecture options ``kwargs``, untrained.

    The arguments are kept in ``model.config`` so the exact architecture can be rebuilt from a
    checkpoint or a saved folder.
    """
    model = MODELS.get(name)(**kwargs)
    model.config = {"name": name, **kwargs}
    return model


def split_model_name(name: str) -> tuple[str, str | None]:
    """timm's ``"name.tag"`` (or ``"name:tag"``) → ``(name, tag)`` when ``name`` is registered, else
    ``(name, None)``: the one place a weights tag is parsed out of a model name.

    ``"fpn_resnet10t.cuhk"`` → ``("fpn_resnet10t", "cuhk")``; ``"fpn"`` → ``("fpn", None)``;
    ``"model.safetensors"`` and ``"org/name"`` stay whole (their stem is no registered name).
    """
    for sep in (":", "."):
        base, found, tag = name.partition(sep)
        if found and base in MODELS and tag and "/" not in tag:
            return base, tag
    return name, None


def is_trainable(name: str) -> bool:
    """Whether ``name`` learns weights (networks) or is a parameter-free classical method (HiFST, LBP)."""
    return bool(getattr(returned_class(MODELS.get(name)), "trainable", True))
