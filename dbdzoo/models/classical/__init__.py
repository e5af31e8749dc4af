"""Classical (non-learned) DBD methods under the model contract: HiFST and LBP."""

from . import hifst as _hifst  # noqa: F401  (each import registers its method)
from . import lbp as _lbp  # noqa: F401
from .base import ClassicalModel

__all__ = ["ClassicalModel"]
