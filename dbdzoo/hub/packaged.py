"""Weights shipped inside the package (``dbdzoo/weights/*.safetensors``): found offline, verified on load.

A shipped file is trusted no more than a download: its size and SHA-256 are checked against the registry
entry every time it is loaded, so a corrupted install or a swapped file is refused, never silently used.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .download import sha256_of
from .errors import IntegrityError, WeightsNotFoundError
from .weights import WeightsEntry


def weights_dir() -> Path:
    """The folder of the shipped weights files (``dbdzoo/weights`` of the installed package)."""
    return Path(str(resources.files("dbdzoo.weights")))


def packaged_path(entry: WeightsEntry) -> Path:
    """The verified path of a shipped weights file (one-line errors for missing or altered files)."""
    if entry.file is None:
        raise ValueError(f"{entry.source} is not a shipped weights file")
    path = weights_dir() / entry.file
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{path}: shipped weights file is missing; reinstall dbdzoo (pip install --force-reinstall dbdzoo)"
        )
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        raise IntegrityError(
            f"{path}: size {size} bytes, expected {entry.size}; the file is damaged, reinstall dbdzoo"
        )
    digest = sha256_of(path)
    if digest != entry.sha256:
        raise IntegrityError(
            f"{path}: SHA-256 {digest} does not match the registered {entry.sha256}; refusing to load it"
        )
    return path
