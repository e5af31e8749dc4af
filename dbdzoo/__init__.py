"""dbdzoo: defocus blur detection and defocus map estimation networks on one backbone registry."""

from .backbones import create_backbone, list_backbones
from .models import DBDModel, ModelOutput, create_model, list_models, register_model

__version__ = "0.1.0"

__all__ = [
    "DBDModel",
    "ModelOutput",
    "__version__",
    "create_backbone",
    "create_model",
    "list_backbones",
    "list_models",
    "register_model",
]
