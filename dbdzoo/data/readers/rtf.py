"""RTF (D'Andrès et al., TIP 2016): disk-radius ground truth converted to Gaussian σ."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..base import DATASETS, ReaderBase, Sample
from ..io import DataError, list_files, read_npy

#: Disk radius r -> Gaussian σ (codeslake/DMENet ``evaluation/RTF/convertion.mat``, 23 pairs).
RTF_RADIUS = np.array(
    [
        0.5,
        0.75,
        1.0,
        1.25,
        1.5,
        1.75,
        2.0,
        2.25,
        2.5,
        2.75,
        3.0,
        3.25,
        3.5,
        3.75,
        4.0,
        4.25,
        4.5,
        4.75,
        5.0,
        5.25,
        5.5,
        5.75,
        6.0,
    ],
    dtype=np.float64,
)
RTF_SIGMA = np.array(
    [
        0.3,
        0.5,
        0.65,
        0.775,
        0.875,
        0.975,
        1.125,
        1.275,
        1.375,
        1.525,
        1.65,
        1.8,
        1.925,
        2.05,
        2.2,
        2.325,
        2.45,
        2.6,
        2.725,
        2.875,
        3.0,
        3.15,
        3.275,
    ],
    dtype=np.float64,
)
RTF_SIGMA_MAX = 3.275
NOISE_LEVELS = {"0": ("0", "0.0"), "1": ("1", "1.0"), "1.6": ("1.6",)}


def radius_to_sigma(radius: np.ndarray) -> np.ndarray:
    """Map each disk radius to the σ of the nearest tabulated radius (ties take the smaller r, as MATLAB's min)."""
    r = np.asarray(radius, dtype=np.float64)
    idx = np.abs(r[..., None] - RTF_RADIUS).argmin(axis=-1)
    return RTF_SIGMA[idx].astype(np.float32)


def read_rtf_gt(path: Path) -> np.ndarray:
    """Load an RTF ground-truth map from ``.npy`` (DMENet package) or ``.mat`` (variable ``blurMap``)."""
    if path.suffix.lower() == ".npy":
        arr = np.asarray(read_npy(path), dtype=np.float64)
        return arr.squeeze() if arr.ndim > 2 else arr  # H×W×1 or 1×H×W, but never squeeze a 1-row map
    try:
        from scipy.io import loadmat  # optional: only the original author zip ships .mat files
    except ImportError as exc:
        raise DataError(
            f"{path}: reading .mat needs scipy (pip install scipy), or convert the maps to .npy with "
            "np.save(name, scipy.io.loadmat(mat)['blurMap'])"
        ) from exc
    try:
        return np.asarray(loadmat(path)["blurMap"], dtype=np.float64)
    except Exception as exc:
        raise DataError(
            f"{path}: cannot read variable 'blurMap' from .mat ({type(exc).__name__}: {exc})"
        ) from exc


@DATASETS.register("rtf")
class RTF(ReaderBase):
    """RTF test set at one noise level; yields ``defocus`` (σ px) and ``defocus_valid`` (finite pixels).

    Args:
        noise: 0, 1 or 1.6 (the three published noise levels).
        gt_units: ``"radius"`` (disk radius, converted by the table) or ``"sigma"`` if already converted.
        mask_threshold: if set, also yield ``mask = σ > mask_threshold``; RTF itself has no binary GT.
    """

    name = "rtf"
    splits = ("test", "all")
    aliases = ("test/RTF", "RTF")
    layout = """\
RTF/
  image/{0,1,1.6}/<name>.png    (all-in-focus blurred inputs per noise level)
  gt/{0,1,1.6}/<name>.npy|.mat  (disk radius in px; .mat variable 'blurMap', needs scipy)"""

    def __init__(
        self,
        root,
        split: str = "test",
        transform=None,
        *,
        noise: float | str = 0,
        gt_units: str = "radius",
        mask_threshold: float | None = None,
        pairing: str = "auto",
        **kwargs,
    ) -> None:
        key = f"{float(noise):g}" if str(noise).replace(".", "", 1).isdigit() else str(noise)
        if key not in NOISE_LEVELS:
            raise DataError(f"rtf: noise={noise!r}; expected one of 0, 1, 1.6")
        if gt_units not in ("radius", "sigma"):
            raise DataError(f"rtf: gt_units={gt_units!r}; expected 'radius' or 'sigma'")
        self.noise, self.gt_units, self.mask_threshold, self.pairing = key, gt_units, mask_threshold, pairing
        super().__init__(root, split, transform, **kwargs)

    def _noise_dir(self, root: Path, kind: str) -> Path | None:
        return next((root / kind / n for n in NOISE_LEVELS[self.noise] if (root / kind / n).is_dir()), None)

    def matches(self, root: Path) -> bool:
        return self._noise_dir(root, "image") is not None and self._noise_dir(root, "gt") is not None

    def scan(self, root: Path) -> list[Sample]:
        img_dir, gt_dir = self._noise_dir(root, "image"), self._noise_dir(root, "gt")
        gts = list_files(gt_dir, (".npy", ".mat"))
        samples = self.pair_auto(list_files(img_dir), gts, str(img_dir), self.pairing)
        return [Sample(s.name, s.image, gt=None, sigma=s.gt) for s in samples]

    def load_targets(self, sample: Sample) -> dict[str, np.ndarray]:
        raw = read_rtf_gt(sample.sigma)
        if raw.ndim != 2:
            raise DataError(f"{sample.sigma}: expected a 2-D map, got shape {raw.shape}")
        valid = np.isfinite(raw)
        raw = np.where(valid, raw, 0.0)
        sigma = radius_to_sigma(raw) if self.gt_units == "radius" else raw.astype(np.float32)
        sigma = np.where(valid, sigma, 0.0).astype(np.float32)
        out = {"defocus": sigma, "defocus_valid": valid.astype(np.float32)}
        if self.mask_threshold is not None:
            out["mask"] = (sigma > self.mask_threshold).astype(np.float32)
        return out

    def load(self, sample: Sample):
        item = super().load(sample)
        item["meta"]["noise"] = self.noise
        return item
