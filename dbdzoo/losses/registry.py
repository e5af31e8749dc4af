"""Objective registry: ``register_objective``, ``build_objective`` and each model's paper objective.

An objective factory takes the built network first (the objective may read its structure, e.g. DMENet's
feature width or BTBNet's training stages) and the config keys as keyword arguments. Networks never
name their objective; the mapping model → default objective lives here, with the objectives.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from ..models import DBDModel
from ..registry import Registry, accepted_options
from .objective import AdversarialObjective, Objective

ObjectiveFactory = Callable[..., Objective]
OBJECTIVES: Registry[ObjectiveFactory] = Registry("objective")
#: model name → its paper objective config (``name`` + keyword arguments).
MODEL_OBJECTIVES: dict[str, dict[str, Any]] = {}
#: what a model without a declared objective trains with (BCE deep supervision on logits and aux).
FALLBACK_OBJECTIVE = "deep_supervision"


def register_objective(
    name: str, *, defaults_for: Mapping[str, Mapping[str, Any]] | None = None
) -> Callable[[ObjectiveFactory], ObjectiveFactory]:
    """Register a factory ``fn(model, **options) -> Objective`` as ``name``.

    Args:
        defaults_for: models whose paper objective this is, each with the options that differ from the
            factory's defaults (``{"btbcrl": {"aux_resize": "target"}}``).
    """

    def decorator(fn: ObjectiveFactory) -> ObjectiveFactory:
        OBJECTIVES.register(name)(fn)
        for model_name, options in (defaults_for or {}).items():
            MODEL_OBJECTIVES[model_name] = {"name": name, **options}
        return fn

    return decorator


def list_objectives(pattern: str = "*") -> list[str]:
    """Registered objective names matching an fnmatch ``pattern``."""
    return OBJECTIVES.names(pattern)


def default_objective(model_name: str) -> dict[str, Any]:
    """The paper objective of ``model_name`` as a config (``{"name": ..., **options}``)."""
    return dict(MODEL_OBJECTIVES.get(model_name, {"name": FALLBACK_OBJECTIVE}))


def objective_options(name: str) -> set[str]:
    """The keyword options objective ``name`` accepts (a factory's ``**kwargs`` follow its return class)."""
    fn = OBJECTIVES.get(name)
    model_param = next(iter(inspect.signature(fn).parameters))  # the first parameter is the network
    return (accepted_options(fn) or set()) - {model_param}


def build_objective(objective_cfg: Mapping[str, Any] | None, model: nn.Module) -> Objective:
    """The objective ``objective_cfg`` names, built for ``model``; ``None``: the model's paper objective.

    Raises a ``ValueError`` naming the key when the config has no ``name`` or an option the objective
    does not take.
    """
    model_name = model.config.get("name", "") if isinstance(model, DBDModel) else ""
    cfg = dict(objective_cfg) if objective_cfg is not None else default_objective(model_name)
    name = cfg.pop("name", None)
    if not isinstance(name, str):
        raise ValueError(
            f"objective.name is missing; choose one of {', '.join(list_objectives())} "
            "(the configs/objective group sets it)"
        )
    if name not in OBJECTIVES:
        raise ValueError(f"objective.name={name!r}; expected one of {', '.join(list_objectives())}")
    unknown = sorted(set(cfg) - objective_options(name))
    if unknown:
        raise ValueError(
            f"objective.{unknown[0]}: not an option of objective {name!r}; "
            f"options: {', '.join(sorted(objective_options(name)))}"
        )
    objective = OBJECTIVES.get(name)(model, **cfg)
    if not isinstance(objective, Objective):
        raise TypeError(f"objective {name!r} built a {type(objective).__name__}, not an Objective")
    if isinstance(objective, AdversarialObjective) and not isinstance(
        dict(objective.named_children()).get("adversary"), nn.Module
    ):
        raise TypeError(f"{type(objective).__name__} is adversarial but registers no 'adversary' submodule")
    return objective
