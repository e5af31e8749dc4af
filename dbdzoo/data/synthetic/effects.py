"""Per-sample extras of the renderer that real photographs show: aperture choice and bokeh highlights.

They draw from their own generator (seeded from the sample seed), so switching them on or off leaves the
scene, camera and σ of every sample unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..io import DataError
from .aperture import APERTURE_SHAPES

EXTRA_SALT = 0x9E3779B9
CAMERA_SALT = 0xC0FFEE11


def check_psf(psf: str | Sequence[str]) -> tuple[str, ...]:
    """``"gaussian"``, ``"disc"``, ``"polygon"`` or a list of them (one drawn uniformly per sample)."""
    kinds = (psf,) if isinstance(psf, str) else tuple(psf)
    bad = [k for k in kinds if k not in APERTURE_SHAPES]
    if not kinds or bad:
        raise DataError(
            f"render_defocus: psf={psf!r}; expected one or a list of {', '.join(APERTURE_SHAPES)}"
        )
    return kinds


def draw_aperture(gen: torch.Generator, kinds: tuple[str, ...]) -> tuple[int, float] | None:
    """None (Gaussian PSF) or (blades, rotation): 0 blades is a disc, 5–9 a polygonal iris."""
    kind = kinds[int(torch.randint(len(kinds), (1,), generator=gen))] if len(kinds) > 1 else kinds[0]
    if kind == "gaussian":
        return None
    if kind == "disc":
        return (0, 0.0)
    blades = int(torch.randint(5, 10, (1,), generator=gen))
    return (blades, round(float(torch.rand(1, generator=gen)) * 2 * math.pi / blades, 2))


def add_highlights(tex: torch.Tensor, gen: torch.Generator, count: tuple[int, int] = (5, 40)) -> torch.Tensor:
    """Sprinkle small HDR specular points (1–2 px, 3–60× white) on a 3×H×W texture.

    In focus they are tiny saturated dots; behind a lens they spread into the bright bokeh discs that real
    out-of-focus backgrounds (street lights, foliage glints) are full of.
    """
    _, h, w = tex.shape
    n = int(torch.randint(count[0], count[1] + 1, (1,), generator=gen))
    cy, cx = torch.rand(n, generator=gen) * h, torch.rand(n, generator=gen) * w
    rad = 0.6 + 1.4 * torch.rand(n, generator=gen)
    gain = torch.exp(math.log(3.0) + (math.log(60.0) - math.log(3.0)) * torch.rand(n, generator=gen))
    tint = 0.7 + 0.3 * torch.rand(n, 3, generator=gen)
    out = tex.clone()
    for i in range(n):
        r = float(rad[i])
        y0, y1 = max(0, int(cy[i] - r - 1)), min(h, int(cy[i] + r + 2))
        x0, x1 = max(0, int(cx[i] - r - 1)), min(w, int(cx[i] + r + 2))
        if y0 >= y1 or x0 >= x1:
            continue
        yy = torch.arange(y0, y1, dtype=torch.float32).view(-1, 1) + 0.5 - float(cy[i])
        xx = torch.arange(x0, x1, dtype=torch.float32).view(1, -1) + 0.5 - float(cx[i])
        spot = (r + 0.5 - (yy**2 + xx**2).sqrt()).clamp(0.0, 1.0).to(tex.device, tex.dtype)
        val = (float(gain[i]) * tint[i]).to(tex.device, tex.dtype).view(3, 1, 1)
        out[:, y0:y1, x0:x1] = torch.maximum(out[:, y0:y1, x0:x1], spot * val)
    return out
