"""SYNDOF (DMENet's synthetic defocus set): image, uint16 blur map, binary map.

Two places where dbdzoo's physical reading and DMENet's loader (``main.py``/``utils.py``, original SYNDOF:
label = CoC/15) part ways are options: ``coc_below_one`` (the original keeps CoC c < 1 as c/15; σ has no
value below 0) and ``sigma_on_resize`` (the original ``cv2.resize``-s the label and keeps its values; σ in
pixels shrinks with the image).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..base import DATASETS, Item, ReaderBase, Sample
from ..io import GT_THRESHOLD, DataError, list_files, read_gray, read_unchanged

UNITS = ("sigma", "coc15")
COC_BELOW_ONE = ("clamp", "original")
SIGMA_ON_RESIZE = ("scale", "keep")


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise DataError(f"syndof: {key}={value!r}; expected one of {', '.join(allowed)}")
    return value


def decode_syndof_blur_map(raw: np.ndarray, units: str = "sigma", coc_below_one: str = "clamp") -> np.ndarray:
    """σ in pixels from a SYNDOF ``blur_map`` PNG (uint16, value = 10 × blur value, 3 equal channels).

    Args:
        raw: the file as decoded by OpenCV (H×W or H×W×C, uint16).
        units: ``"sigma"`` for the public generator (the stored value already is σ) or ``"coc15"`` for the
            original SYNDOF used to train DMENet (the stored value is a circle of confusion c, max 15,
            σ = (c − 1) / 2).
        coc_below_one: ``coc15`` only. ``"clamp"``: σ = max(0, (c − 1)/2), every c ≤ 1 is sharp
            (σ 0, and DMENet target 1/15). ``"original"``: σ = (c − 1)/2 down to −0.5, so that
            ``dbdzoo.metrics.defocus.sigma_to_dmenet(σ, "coc15")`` = c/15 for every pixel, as DMENet's loader (``image / 15``).
    """
    _choice("units", units, UNITS)
    _choice("coc_below_one", coc_below_one, COC_BELOW_ONE)
    value = (raw[..., 1] if raw.ndim == 3 else raw).astype(np.float32) / 10.0
    if units == "coc15":
        value = (value - 1.0) / 2.0
        if coc_below_one == "clamp":
            value = np.maximum(0.0, value)
    return value.astype(np.float32)


def rescale_factor(transform: object, h: int, w: int) -> float:
    """The factor a ``PairedTransform``'s rescale stage multiplies σ by for an h×w image (1 if none)."""
    rule = getattr(transform, "resize", None)
    new = rule(h, w) if callable(rule) else None
    if new is None or tuple(new) == (h, w):
        return 1.0
    return math.sqrt((new[0] / h) * (new[1] / w))  # as PairedTransform._rescale


@DATASETS.register("syndof")
class SYNDOF(ReaderBase):
    """SYNDOF renders with σ maps in pixels (``defocus``) and the binary map as ``mask`` (blurred = 1).

    When ``blur_map_binary/`` is absent the mask is derived as σ > 0 (CoC > 1, the generator's rule).
    Binary files holding {0, 1} instead of {0, 255} are recognised by their maximum.

    Args:
        units: ``"sigma"`` (public generator) or ``"coc15"`` (original SYNDOF, DMENet's training data).
        coc_below_one: see ``decode_syndof_blur_map``; ``"original"`` reproduces DMENet's c/15 labels.
        sigma_on_resize: ``"scale"`` (σ is a length: a rescale stage of the transform multiplies it by
            the factor) or ``"keep"`` (the values pass the rescale unchanged, as DMENet's ``cv2.resize`` of
            the label). Only the transform's rescale stage is affected; crops and flips never scale.
    """

    name = "syndof"
    native_positive = "blur"
    splits = ("train", "test")
    layout = """\
SYNDOF/                     (or a DMENet package root holding train/SYNDOF and test/SYNDOF)
  image/<stem>.png
  blur_map/<stem>.png          uint16, 10 × value (σ px, or CoC for units='coc15')
  blur_map_binary/<stem>[_binary].png   optional, white = blurred
  blur_map_norm/               ignored (display only)"""

    def __init__(
        self,
        root,
        split: str = "train",
        transform=None,
        *,
        units: str = "sigma",
        coc_below_one: str = "clamp",
        sigma_on_resize: str = "scale",
        **kwargs,
    ) -> None:
        self.units = _choice("units", units, UNITS)
        self.coc_below_one = _choice("coc_below_one", coc_below_one, COC_BELOW_ONE)
        self.sigma_on_resize = _choice("sigma_on_resize", sigma_on_resize, SIGMA_ON_RESIZE)
        super().__init__(root, split, transform, **kwargs)

    def load(self, sample: Sample) -> Item:
        item = super().load(sample)
        if self.sigma_on_resize == "keep":  # pre-divide what the rescale stage will multiply back
            scale = rescale_factor(self.transform, *item["image"].shape[:2])
            if scale != 1.0:
                item["defocus"] = item["defocus"] / np.float32(scale)
        return item

    def root_aliases(self) -> tuple[str, ...]:
        return (f"{self.split}/SYNDOF", "SYNDOF")

    def matches(self, root: Path) -> bool:
        return (root / "image").is_dir() and (root / "blur_map").is_dir()

    def scan(self, root: Path) -> list[Sample]:
        images = list_files(root / "image")
        sigmas = {_strip(s, "_blur_map"): p for s, p in list_files(root / "blur_map").items()}
        pairs = self.pair(images, sigmas, str(root / "image"))
        binary: dict[str, Path] = {}
        if (root / "blur_map_binary").is_dir():
            binary = {_strip(s, "_binary"): p for s, p in list_files(root / "blur_map_binary").items()}
            missing = [s.name for s in pairs if s.name not in binary]
            if missing:
                raise DataError(
                    f"syndof: {len(missing)} image(s) have no binary map in {root / 'blur_map_binary'}, "
                    f"e.g. {', '.join(missing[:5])}"
                )
        return [Sample(s.name, s.image, gt=binary.get(s.name), sigma=s.gt) for s in pairs]

    def load_targets(self, sample: Sample) -> dict[str, np.ndarray]:
        sigma = decode_syndof_blur_map(read_unchanged(sample.sigma), self.units, self.coc_below_one)
        if sample.gt is not None:
            mask = (read_gray(sample.gt) > GT_THRESHOLD).astype(np.float32)  # 0/1 maps read as 0/255
        else:
            mask = (sigma > 0).astype(np.float32)
        return {"mask": mask, "defocus": sigma, "defocus_valid": np.ones_like(sigma)}


def _strip(stem: str, suffix: str) -> str:
    return stem[: -len(suffix)] if stem.endswith(suffix) else stem
