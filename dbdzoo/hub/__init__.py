"""Pretrained weights: registry, verified downloads, Hugging Face Hub folders and ``load_model``.

Light on import: huggingface_hub, safetensors and tqdm are imported only when used.
"""

from .download import Downloaded, UnverifiedDownloadWarning, cache_dir, download, sha256_of
from .errors import (
    CheckpointFormatError,
    DownloadError,
    HubError,
    IntegrityError,
    ModelReferenceError,
    UnsafeCheckpointError,
    WeightsNotFoundError,
)
from .hf import from_pretrained, push_to_hub, save_pretrained
from .load import load_model
from .weights import WEIGHTS, WeightsEntry, get_weights, list_weights, register_weights

__all__ = [
    "WEIGHTS",
    "CheckpointFormatError",
    "DownloadError",
    "Downloaded",
    "HubError",
    "IntegrityError",
    "ModelReferenceError",
    "UnsafeCheckpointError",
    "UnverifiedDownloadWarning",
    "WeightsEntry",
    "WeightsNotFoundError",
    "cache_dir",
    "download",
    "from_pretrained",
    "get_weights",
    "list_weights",
    "load_model",
    "push_to_hub",
    "register_weights",
    "save_pretrained",
    "sha256_of",
]
