"""What a model reference names: a registered model, a local path, a URL or a Hugging Face repo.

Decided once, without touching the network, so that a mistyped ``runs/last.safetensors`` is "file not
found" at once instead of 28 s of Hub retries, and only Hub-shaped ids ever reach the Hub.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from .errors import ModelReferenceError

Kind = Literal["name", "path", "url", "hf"]

HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
WEIGHT_SUFFIXES = {".safetensors", ".pt", ".pth", ".ckpt", ".bin"}


class WeightsFileNotFoundError(ModelReferenceError, FileNotFoundError):
    """A reference shaped like a path (separator, ``./``, ``~``, weights suffix) names no existing file."""


def is_url(ref: str) -> bool:
    return urlparse(ref).scheme in {"http", "https"}


def looks_like_path(ref: str) -> bool:
    """A local path, never a Hub id: a weights suffix, a leading ``.``/``/``/``~``, ``\\`` or two ``/``.

    ``org/name`` stays a Hub id; ``runs/last.safetensors`` or ``./model`` must not wait on Hub retries.
    """
    if is_url(ref) or ref.startswith("hf-hub:"):
        return False
    return (
        Path(ref).suffix.lower() in WEIGHT_SUFFIXES
        or ref.startswith((".", "/", "~"))
        or "\\" in ref
        or os.sep != "/"
        and os.sep in ref
        or ref.count("/") >= 2
    )


def reference_kind(ref: str) -> Kind:
    """``"url"``, ``"hf"`` (``hf-hub:`` prefix), ``"path"`` (exists), ``"name"`` (registered, ``name.tag``
    included) or ``"hf"`` (``org/name``); a path-shaped reference that does not exist, or anything else,
    raises one line."""
    from ..models import MODELS, split_model_name

    if is_url(ref):
        return "url"
    if ref.startswith("hf-hub:"):
        return "hf"
    if Path(ref).expanduser().exists():
        return "path"
    if looks_like_path(ref):
        raise WeightsFileNotFoundError(f"file not found: {ref}")
    if split_model_name(ref)[0] in MODELS:
        return "name"
    if HF_ID.match(ref):
        return "hf"
    raise ModelReferenceError(
        f"unknown model reference {ref!r}: not a registered model ({', '.join(MODELS.names()) or 'none'}), "
        "not an existing file or folder, not an http(s) URL, not a Hugging Face repo id (org/name)"
    )


def weights_kind(choice: str) -> Kind | Literal["tag"]:
    """What ``weights=`` names next to a model name: a registered ``"tag"``, or a source (path, URL, repo)."""
    if is_url(choice) or "/" in choice or looks_like_path(choice) or Path(choice).expanduser().exists():
        return reference_kind(choice)
    return "tag"
