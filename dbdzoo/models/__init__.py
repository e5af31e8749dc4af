"""Networks: the model registry and the shared model contract."""

from . import br2net as _br2net  # noqa: F401  (each import registers its networks)
from . import btbcrl as _btbcrl  # noqa: F401
from . import btbnet as _btbnet  # noqa: F401
from . import cenet as _cenet  # noqa: F401
from . import classical as _classical  # noqa: F401  (HiFST, LBP: no parameters)
from . import defusionnet as _defusionnet  # noqa: F401
from . import dmenet as _dmenet  # noqa: F401
from . import fpn as _fpn  # noqa: F401
from .base import DBDModel
from .normalize import NORM_PRESETS, Normalize
from .output import ModelOutput
from .registry import MODELS, build_model, is_trainable, register_model, split_model_name

__all__ = [
    "DBDModel",
    "MODELS",
    "ModelOutput",
    "NORM_PRESETS",
    "Normalize",
    "build_model",
    "is_trainable",
    "register_model",
    "split_model_name",
]
