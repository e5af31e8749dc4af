"""Training objectives; each model picks its own through ``build_objective``."""

from .deep_supervision import DeepSupervisionLoss
from .objective import ModelFn, Objective

__all__ = ["DeepSupervisionLoss", "ModelFn", "Objective"]
