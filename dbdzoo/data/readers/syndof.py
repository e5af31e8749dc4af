"""SYNDOF (DMENet's synthetic defocus set): image, uint16 blur map, binary map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base import DATASETS, ReaderBase, Sample
from ..io import DataError, list_files, read_gray, read_unchanged

UNITS = ("sigma", "coc15")


def decode_syndof_blur_map(raw: np.ndarray, units: str = "sigma") -> np.ndarray:
    """σ in pixels from a SYNDOF ``blur_map`` PNG (uint16, value = 10 × blur value, 3 equal channels).

    Args:
        raw: the file as decoded by OpenCV (H×W or H×W×C, uint16).
        units: ``"sigma"`` for the public generator (the stored value already is σ) or ``"coc15"`` for the
            original SYNDOF used to train DMENet (the stored value is a circle of confusion c, max 15,
            σ = max(0, (c − 1) / 2)).
    """
    if units not in UNITS:
        raise DataError(f"syndof: units={units!r}; expected one of {', '.join(UNITS)}")
    value = (raw[..., 1] if raw.ndim == 3 else raw).astype(np.float32) / 10.0
    if units == "coc15":
        value = np.maximum(0.0, (value - 1.0) / 2.0)
    return value.astype(np.float32)


@DATASETS.register("syndof")
class SYNDOF(ReaderBase):
    """SYNDOF renders with σ maps in pixels (``defocus``) and the binary map as ``mask`` (blurred = 1).

    When ``blur_map_binary/`` is absent the mask is derived as σ > 0 (CoC > 1, the generator's rule).
    Binary files holding {0, 1} instead of {0, 255} are recognised by their maximum.
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

    def __init__(self, root, split: str = "train", transform=None, *, units: str = "sigma", **kwargs) -> None:
        if units not in UNITS:
            raise DataError(f"syndof: units={units!r}; expected one of {', '.join(UNITS)}")
        self.units = units
        super().__init__(root, split, transform, **kwargs)

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
        sigma = decode_syndof_blur_map(read_unchanged(sample.sigma), self.units)
        if sample.gt is not None:
            gray = read_gray(sample.gt)
            mask = (gray > (0 if gray.max() <= 1 else 127)).astype(np.float32)
        else:
            mask = (sigma > 0).astype(np.float32)
        return {"mask": mask, "defocus": sigma, "defocus_valid": np.ones_like(sigma)}


def _strip(stem: str, suffix: str) -> str:
    return stem[: -len(suffix)] if stem.endswith(suffix) else stem
