"""Training objectives and their registry; each model's paper objective is declared here, not in the model."""

from . import cenet as _cenet  # noqa: F401  (each import registers its objectives)
from . import deep_supervision as _deep_supervision  # noqa: F401
from . import dmenet as _dmenet  # noqa: F401
from .cenet import CrossEnsembleLoss
from .deep_supervision import DeepSupervisionLoss
from .dmenet import DMENetObjective
from .objective import AdversarialObjective, ModelFn, Objective
from .registry import (
    OBJECTIVES,
    build_objective,
    default_objective,
    list_objectives,
    objective_options,
    register_objective,
)

__all__ = [
    "OBJECTIVES",
    "AdversarialObjective",
    "CrossEnsembleLoss",
    "DMENetObjective",
    "DeepSupervisionLoss",
    "ModelFn",
    "Objective",
    "build_objective",
    "default_objective",
    "list_objectives",
    "objective_options",
    "register_objective",
]
