"""Unit conversions between DMENet outputs, circle of confusion (CoC) and Gaussian sigma (pixels).

Three blur units meet in DME work: the original SYNDOF labels DMENet was trained on (CoC/15), the
public SYNDOF generator's sigma = (CoC - 1)/4 with labels sigma/7, and RTF's disk-PSF radius, which
DMENet's evaluation maps to sigma through a 23-entry table (``convertion.mat``).
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
import torch
from torch import Tensor

ArrayT = TypeVar("ArrayT", Tensor, np.ndarray, float)

RTF_SIGMA_MAX = 3.275
"""Largest sigma of the RTF conversion table; RTF metrics clip at and divide by it."""
SYNDOF_SIGMA_MAX = 7.0
"""sigma of the largest blur in SYNDOF (labels are sigma / 7)."""

# codeslake/DMENet evaluation/RTF/convertion.mat: disk radius r = 0.5, 0.75, ..., 6.0 -> Gaussian sigma.
RTF_RADII = tuple(0.5 + 0.25 * i for i in range(23))
RTF_SIGMAS = (
    0.3, 0.5, 0.65, 0.775, 0.875, 0.975, 1.125, 1.275, 1.375, 1.525, 1.65, 1.8,
    1.925, 2.05, 2.2, 2.325, 2.45, 2.6, 2.725, 2.875, 3.0, 3.15, 3.275,
)  # fmt: skip


def _clip_min0(x: ArrayT) -> ArrayT:
    return x.clamp_min(0) if isinstance(x, Tensor) else np.maximum(x, 0)


#: what DMENet's normalised map y means: ``coc15`` (y = CoC/15, original SYNDOF, the released weights)
#: or ``sigma7`` (y = sigma/7, the public SYNDOF generator and dbdzoo's renderer).
DMENET_SIGMA_UNITS = ("coc15", "sigma7")
DMENetUnits = Literal["coc15", "sigma7"]


def _check_units(units: str) -> None:
    if units not in DMENET_SIGMA_UNITS:
        raise ValueError(f"units must be 'coc15' or 'sigma7', got {units!r}")


def dmenet_to_sigma(y: ArrayT, units: DMENetUnits = "coc15") -> ArrayT:
    """Sigma in pixels from DMENet's normalised output ``y`` in [0, 1] (the one decoder; models use it too).

    ``coc15`` (original SYNDOF, what the released DMENet predicts): CoC = 15 y, sigma = max(0, (CoC-1)/2).
    ``sigma7`` (dbdzoo / public-generator labels): sigma = 7 y.
    """
    _check_units(units)
    if units == "coc15":
        return _clip_min0((15 * y - 1) / 2)
    return 7 * y


def sigma_to_dmenet(sigma: ArrayT, units: DMENetUnits = "coc15") -> ArrayT:
    """Inverse of ``dmenet_to_sigma``: DMENet's training target y from sigma in pixels, clipped to [0, 1].

    For ``coc15`` sigma = 0 maps to CoC = 1 (y = 1/15), the in-focus threshold of the generator's rule
    "blurred iff CoC > 1"; the original labels below CoC 1 cannot be recovered from sigma.
    """
    _check_units(units)
    y = (2 * sigma + 1) / 15 if units == "coc15" else sigma / 7
    return y.clamp(0.0, 1.0) if isinstance(y, Tensor) else np.clip(y, 0.0, 1.0)


def sigma_to_coc(sigma: ArrayT) -> ArrayT:
    """CoC diameter in pixels of the public SYNDOF generator: CoC = 4 sigma + 1."""
    return 4 * sigma + 1


def coc_to_sigma(coc: ArrayT) -> ArrayT:
    """Gaussian sigma of the public SYNDOF generator: (CoC - 1)/4, CoC < 1 counting as sharp (0)."""
    return _clip_min0((coc - 1) / 4)


def rtf_radius_to_sigma(r: ArrayT) -> ArrayT:
    """Map RTF disk radii to sigma through the 23-entry table, nearest radius (midpoints round up)."""
    if isinstance(r, Tensor):
        idx = torch.floor((r - 0.5) / 0.25 + 0.5).clamp(0, 22).long()
        return torch.tensor(
            RTF_SIGMAS, dtype=r.dtype if r.is_floating_point() else torch.float32, device=r.device
        )[idx]
    idx = np.clip(np.floor((np.asarray(r, dtype=np.float64) - 0.5) / 0.25 + 0.5), 0, 22).astype(np.int64)
    out = np.asarray(RTF_SIGMAS, dtype=np.float64)[idx]
    return float(out) if np.ndim(out) == 0 else out
