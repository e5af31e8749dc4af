"""Pretrained weights: registry, verified downloads, Hugging Face Hub folders and ``load_model``.

Light on import: huggingface_hub, safetensors and tqdm are imported only when used. Its modules form no
import circle, lazy imports included (tests/test_import_direction.py): reading (checkpoint), rebuilding
(rebuild) and writing (writer) sit under hf and load; release, the ``python -m`` tool, sits on top.
"""

from . import released as _released  # noqa: F401  (registers the weights shipped in dbdzoo/weights)
from .download import Downloaded, UnverifiedDownloadWarning, cache_dir, download, sha256_of
from .errors import (
    CheckpointFormatError,
    DownloadError,
    HashFormatError,
    HubError,
    IntegrityError,
    ModelReferenceError,
    UnreadableFileError,
    UnsafeCheckpointError,
    WeightsNotFoundError,
)
from .hf import from_pretrained, push_to_hub, save_pretrained
from .load import load_model
from .reference import WeightsFileNotFoundError
from .weights import WEIGHTS, WeightsEntry, get_weights, list_weights, register_weights
from .writer import save_release

__all__ = [
    "WEIGHTS",
    "CheckpointFormatError",
    "DownloadError",
    "HashFormatError",
    "Downloaded",
    "HubError",
    "IntegrityError",
    "ModelReferenceError",
    "UnreadableFileError",
    "UnsafeCheckpointError",
    "UnverifiedDownloadWarning",
    "WeightsEntry",
    "WeightsFileNotFoundError",
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
    "save_release",
    "sha256_of",
]
