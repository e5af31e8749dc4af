"""Released weights per model, in the style of torchvision's multi-weight API (``models/_api.py``).

A ``WeightsEntry`` pins one file by URL, SHA-256 and size and says what it is (training data and recipe,
metrics with the preset that measured them, preprocessing, licence), so a user can tell from the registry
alone whether a checkpoint fits their protocol. Entries are plain data; downloading lives in ``download``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

from .errors import WeightsNotFoundError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")

#: Metadata keys every released entry should fill (documentation; nothing enforces them). Facts of the
#: architecture (parameter count, normalisation, native polarity, stride) are not repeated here: they
#: belong to the registered model and ``dbdzoo info`` reads them from it.
META_KEYS = (
    "dataset",  # training data, e.g. "CUHK (604 train) + DUT (600 train)"
    "recipe",  # experiment config that produced it, e.g. "experiment=br2net_cuhk_dut"
    "metrics",  # {"<dataset>/<preset>": {"F_beta": 0.9, "MAE": 0.05}} — the preset names the protocol
    "license",  # licence of the weights (may differ from the code's)
)


@dataclass(frozen=True)
class WeightsEntry:
    """One downloadable checkpoint of one model.

    Args:
        url: http(s) address of a ``.safetensors`` (preferred) or tensors-only ``.pt``/``.pth`` file;
            ``None`` for weights shipped inside the package (``file``).
        sha256: lower-case hex SHA-256 of the file; every download is checked against it.
        size: file size in bytes (checked before hashing, so truncated downloads fail fast).
        config: architecture options the weights need beyond the model's defaults (``build_model``
            keyword arguments); empty when the file's embedded config says it all.
        meta: description of the weights; keys in ``META_KEYS``.
        file: name of a weights file shipped in ``dbdzoo/weights/`` (works offline; verified like a download).
        working_max_side: long side (px) of the images the weights were trained at; ``predict`` and eval
            shrink larger images to it (``models/scale.py``). ``None``: the file's own record, else native.
    """

    url: str | None
    sha256: str
    size: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    working_max_side: int | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.file is None):
            raise ValueError("WeightsEntry needs exactly one of url= (download) and file= (shipped)")
        if self.url is not None and urlparse(self.url).scheme not in {"http", "https"}:
            raise ValueError(f"WeightsEntry url must be http(s), got {self.url!r}")
        if self.file is not None and ("/" in self.file or not self.file.endswith(".safetensors")):
            raise ValueError(
                f"WeightsEntry file must be a .safetensors name in dbdzoo/weights, got {self.file!r}"
            )
        if not _SHA256.match(self.sha256):
            raise ValueError(f"WeightsEntry sha256 must be 64 lower-case hex digits, got {self.sha256!r}")
        if self.size is not None and self.size <= 0:
            raise ValueError(f"WeightsEntry size must be positive, got {self.size}")
        side = self.working_max_side
        if side is not None and (isinstance(side, bool) or not isinstance(side, int) or side < 1):
            raise ValueError(f"WeightsEntry working_max_side must be a positive int (pixels), got {side!r}")

    @property
    def source(self) -> str:
        """Where the file comes from: its URL, or ``dbdzoo/weights/<file>`` for shipped weights."""
        return self.url if self.url is not None else f"dbdzoo/weights/{self.file}"

    @property
    def file_name(self) -> str:
        """Cache file name: the URL's base name with an 8-digit hash prefix (torch.hub's convention)."""
        if self.file is not None:
            return self.file
        name = PurePosixPath(urlparse(self.url).path).name or "weights.safetensors"
        stem, dot, ext = name.partition(".")
        return name if self.sha256[:8] in stem else f"{stem}-{self.sha256[:8]}{dot}{ext}"


# model name -> tag -> entry, filled by ``released.py`` (the tag "default" is what ``load_model(name)``,
# ``create_model(name, pretrained=True)`` and ``torch.hub.load(..., weights="DEFAULT")`` pick).
WEIGHTS: dict[str, dict[str, WeightsEntry]] = {}


def register_weights(model: str, tag: str, entry: WeightsEntry, *, default: bool = False) -> WeightsEntry:
    """Register ``entry`` as ``model:tag``; ``default=True`` also makes it ``model:default``."""
    if not tag or ":" in tag or "/" in tag:
        raise ValueError(f"weights tag must be a non-empty name without ':' or '/', got {tag!r}")
    tags = WEIGHTS.setdefault(model, {})
    tags[tag] = entry
    if default:
        tags["default"] = entry
    return entry


def list_weights(model: str | None = None) -> list[str]:
    """``model:tag`` strings of every registered entry (of one model when given)."""
    models = [model] if model is not None else sorted(WEIGHTS)
    return [f"{m}:{t}" for m in models for t in sorted(WEIGHTS.get(m, {}))]


def pretrained_names() -> list[str]:
    """timm-style ``model.tag`` names of the released weights (the ``default`` alias left out)."""
    return [f"{m}.{t}" for m in sorted(WEIGHTS) for t in sorted(WEIGHTS[m]) if t != "default"]


def default_tag(model: str) -> str | None:
    """The tag the ``default`` alias points at (``None`` without released weights)."""
    tags = WEIGHTS.get(model, {})
    default = tags.get("default")
    return next((t for t, e in sorted(tags.items()) if t != "default" and e is default), None)


def get_weights(model: str, tag: str | None = None) -> WeightsEntry:
    """The entry ``model:tag`` (``None`` or ``"DEFAULT"``: the default), or an error naming what exists."""
    tags = WEIGHTS.get(model, {})
    key = "default" if tag is None or tag.lower() == "default" else tag
    if key in tags:
        return tags[key]
    if not tags:
        raise WeightsNotFoundError(
            f"no released weights are registered for {model!r}; build it untrained with "
            f"dbdzoo.create_model({model!r}) or load your own with load_model({model!r}, weights=<file|url>)"
        )
    if key == "default":
        raise WeightsNotFoundError(
            f"{model!r} has no default weights; choose a tag: {', '.join(list_weights(model))}"
        )
    raise WeightsNotFoundError(
        f"unknown weights tag {tag!r} for {model!r}; registered: {', '.join(list_weights(model))}"
    )
