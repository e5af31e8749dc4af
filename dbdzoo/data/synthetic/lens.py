"""Thin-lens circle of confusion and the SYNDOF CoC -> Gaussian σ conversion.

All distances in millimetres; the sensor is ``sensor_width_mm`` wide and the image ``width_px`` wide, so
``px_per_mm = width_px / sensor_width_mm`` converts a CoC on the sensor to pixels.
"""

from __future__ import annotations

import torch

SENSOR_WIDTH_MM = 36.0  # full-frame, as the SYNDOF generator assumes


def coc_px(
    depth: torch.Tensor,
    focal_mm: torch.Tensor | float,
    f_number: torch.Tensor | float,
    focus_mm: torch.Tensor | float,
    px_per_mm: torch.Tensor | float,
) -> torch.Tensor:
    """Circle-of-confusion diameter in pixels: A·f·|z − z_f| / (z·(z_f − f)) · m with aperture A = f / N."""
    aperture = focal_mm / f_number
    return aperture * focal_mm * (depth - focus_mm).abs() / (depth * (focus_mm - focal_mm)) * px_per_mm


def sigma_from_coc(coc: torch.Tensor, max_sigma: torch.Tensor | float | None = None) -> torch.Tensor:
    """Gaussian σ = (CoC − 1) / 4 in pixels, clipped to [0, max_sigma] (CoC ≤ 1 px stays sharp)."""
    sigma = ((coc - 1.0) / 4.0).clamp_min(0.0)
    return (
        sigma
        if max_sigma is None
        else torch.minimum(sigma, torch.as_tensor(max_sigma, dtype=sigma.dtype, device=sigma.device))
    )


def solve_f_number(
    focal_mm: float, focus_mm: float, z_min: float, z_max: float, max_coc: float, px_per_mm: float
) -> float:
    """The f-number whose larger CoC over [z_min, z_max] equals ``max_coc`` (SYNDOF: span the full range).

    CoC scales as 1/N, so N = CoC_{N=1} / max_coc; a scene with no depth spread gets N = inf (all sharp).
    """
    z = torch.tensor([z_min, z_max], dtype=torch.float64)
    c1 = float(coc_px(z, focal_mm, 1.0, focus_mm, px_per_mm).max())
    return c1 / max_coc if c1 > 0 else float("inf")


def max_coc_for_sigma(max_sigma: float) -> float:
    """Inverse of ``sigma_from_coc``: the CoC whose σ is ``max_sigma`` (σ 7 ↔ CoC 29, the public generator)."""
    return 4.0 * max_sigma + 1.0


LABEL_UNITS = ("sigma_px", "sigma_over_7", "coc_over_15")


def defocus_label(sigma: torch.Tensor, units: str = "sigma_px") -> torch.Tensor:
    """Convert σ (px) to a training target: σ itself, DMENet's σ/7, or original-SYNDOF CoC/15.

    ``coc_over_15`` inverts σ = max(0, (c − 1)/2) with CoC ≤ 1 clamped to 1, as DMENet's loader does,
    so σ = 0 maps to 1/15.
    """
    if units == "sigma_px":
        return sigma
    if units == "sigma_over_7":
        return sigma / 7.0
    if units == "coc_over_15":
        return (2.0 * sigma + 1.0) / 15.0
    raise ValueError(f"defocus_label: units={units!r}; expected one of {', '.join(LABEL_UNITS)}")
