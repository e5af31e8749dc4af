"""dbdzoo: defocus blur detection and defocus map estimation networks on one backbone registry."""

from __future__ import annotations

import importlib
import os
from typing import Any

# albumentations asks PyPI for a newer version on import (HTTPS, 2 s timeout) unless this is set: in every
# process and DataLoader worker, and offline hosts would wait on it. Set before any subpackage can import
# it; setdefault keeps a user's own choice.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from .backbones import create_backbone, list_backbones
from .models import DBDModel, ModelOutput, register_model
from .zoo import create_model, list_models

__version__ = "0.1.0"

# Heavier parts (albumentations, OpenCV, huggingface_hub) load on first use, so `import dbdzoo` stays quick.
_LAZY = {
    "create_dataset": "dbdzoo.data",
    "list_datasets": "dbdzoo.data",
    "build_transform": "dbdzoo.data",
    "render_defocus": "dbdzoo.data",
    "DBDEvaluator": "dbdzoo.metrics",
    "DMEEvaluator": "dbdzoo.metrics",
    "get_preset": "dbdzoo.metrics",
    "list_presets": "dbdzoo.metrics",
    "load_model": "dbdzoo.hub",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dbdzoo' has no attribute {name!r}")


__all__ = [
    "DBDModel",
    "ModelOutput",
    "__version__",
    "create_backbone",
    "create_model",
    "list_backbones",
    "list_models",
    "register_model",
    *_LAZY,
]
