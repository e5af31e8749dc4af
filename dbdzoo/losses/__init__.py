"""Training objectives; each model picks its own through ``build_objective``."""

from .deep_supervision import DeepSupervisionLoss
from .objective import ModelFn, Objective, adversary_of

__all__ = ["DeepSupervisionLoss", "ModelFn", "Objective", "adversary_of"]
