"""Generic readers for users' own data: ``folder`` (images + masks [+ σ maps]) and ``unlabelled``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base import DATASETS, ReaderBase, Sample
from ..io import DataError, list_files, read_gray, read_npy, read_unchanged

SIGMA_EXTS = (".npy", ".png", ".tif", ".tiff")


@DATASETS.register("folder")
class Folder(ReaderBase):
    """``images/`` + ``masks/`` paired by stem, with a declared polarity and optional ``sigma/`` maps.

    Args:
        positive: what white means in ``masks/``: ``"blur"`` or ``"in_focus"`` (required: guessing a
            polarity silently flips every metric).
        sigma_scale: divisor for integer σ files (10 matches the SYNDOF ×10 uint16 encoding); ``.npy``
            files hold σ in pixels as floats and are not divided.
    """

    name = "folder"
    splits = ("train", "val", "test", "all")
    layout = """\
<root>/[<split>/]
  images/<stem>.<jpg|png|bmp|...>
  masks/<stem>.<png|bmp|...>      binary; declare positive='blur' or 'in_focus'
  sigma/<stem>.<npy|png|tif>      optional σ maps (float px in .npy, or integer ÷ sigma_scale)"""

    def __init__(
        self,
        root,
        split: str = "train",
        transform=None,
        *,
        positive: str | None = None,
        sigma_scale: float = 10.0,
        **kwargs,
    ) -> None:
        if positive not in ("blur", "in_focus"):
            raise DataError(
                f"folder: positive={positive!r}; declare what white means in masks/: 'blur' or 'in_focus'"
            )
        self.native_positive = positive  # type: ignore[misc]  # per-instance polarity
        self.sigma_scale = sigma_scale
        super().__init__(root, split, transform, **kwargs)

    def root_aliases(self) -> tuple[str, ...]:
        return (self.split,)

    def matches(self, root: Path) -> bool:
        return (root / "images").is_dir() and (root / "masks").is_dir()

    def scan(self, root: Path) -> list[Sample]:
        samples = self.pair(list_files(root / "images"), list_files(root / "masks"), str(root / "images"))
        if not (root / "sigma").is_dir():
            return samples
        sigmas = list_files(root / "sigma", SIGMA_EXTS)
        missing = [s.name for s in samples if s.name not in sigmas]
        if missing:
            raise DataError(
                f"folder: {len(missing)} image(s) have no σ map in {root / 'sigma'}, "
                f"e.g. {', '.join(missing[:5])}"
            )
        return [Sample(s.name, s.image, s.gt, sigma=sigmas[s.name]) for s in samples]

    def load_targets(self, sample: Sample) -> dict[str, np.ndarray]:
        out = {"mask": self.mask_from_gray(read_gray(sample.gt))}
        if sample.sigma is not None:
            if sample.sigma.suffix.lower() == ".npy":
                sigma = read_npy(sample.sigma).astype(np.float32).squeeze()
            else:
                raw = read_unchanged(sample.sigma)
                sigma = (raw[..., 1] if raw.ndim == 3 else raw).astype(np.float32) / np.float32(
                    self.sigma_scale
                )
            valid = np.isfinite(sigma)
            out["defocus"] = np.where(valid, sigma, 0.0).astype(np.float32)
            out["defocus_valid"] = valid.astype(np.float32)
        return out


@DATASETS.register("unlabelled")
class Unlabelled(ReaderBase):
    """Images only (DMENet's real-domain branch, the Zhao ``1204source`` set): items have no ``mask``."""

    name = "unlabelled"
    splits = ("train", "val", "test", "all")
    layout = """\
<root>/images/*.<jpg|png|bmp|...>    (or the images directly in <root>)"""

    def matches(self, root: Path) -> bool:
        return True

    def scan(self, root: Path) -> list[Sample]:
        folder = root / "images" if (root / "images").is_dir() else root
        return [Sample(stem, path) for stem, path in list_files(folder).items()]
