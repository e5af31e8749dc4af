"""Aperture-shaped PSFs (disc or n-blade polygon) applied by FFT convolution.

A real lens images an out-of-focus point as the aperture's shape (a hard-edged disc or polygon), not as a
Gaussian: bright highlights become bokeh discs with sharp rims. The PSF of blur level σ has the circle of
confusion diameter of the Gaussian model it replaces, c = 4σ + 1 (the inverse of σ = (c − 1) / 4), so
labels and σ maps mean the same under either PSF.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

APERTURE_SHAPES = ("gaussian", "disc", "polygon")


@functools.lru_cache(maxsize=512)
def aperture_kernel(sigma: float, blades: int = 0, rotation: float = 0.0) -> torch.Tensor:
    """Normalised (2R+1)² kernel of a disc (``blades=0``) or regular polygon with diameter 4σ + 1 px.

    Edges are anti-aliased by 4×4 supersampling, so small kernels keep their exact area.
    """
    radius = (4.0 * sigma + 1.0) / 2.0
    r = math.ceil(radius)
    s = 4
    t = (torch.arange((2 * r + 1) * s, dtype=torch.float64) + 0.5) / s - (r + 0.5)
    yy, xx = t.view(-1, 1), t.view(1, -1)
    if blades >= 3:
        # inside a regular polygon with circumradius `radius`: every edge's half-plane test
        apothem = radius * math.cos(math.pi / blades)
        inside = torch.ones_like(yy * xx, dtype=torch.bool)
        for k in range(blades):
            a = rotation + (2 * k + 1) * math.pi / blades
            inside &= xx * math.cos(a) + yy * math.sin(a) <= apothem
    else:
        inside = yy**2 + xx**2 <= radius**2
    k = F.avg_pool2d(inside.double()[None, None], s)[0, 0]
    return (k / k.sum()).float()


def aperture_blur(x: torch.Tensor, sigma: float, blades: int = 0, rotation: float = 0.0) -> torch.Tensor:
    """Blur every channel of N×C×H×W by the aperture PSF (replicate borders), via one real FFT."""
    if sigma <= 0:
        return x
    k = aperture_kernel(float(sigma), int(blades), round(float(rotation), 3)).to(x.device, x.dtype)
    r = (k.shape[-1] - 1) // 2
    n, c, h, w = x.shape
    if r >= min(h, w):  # replicate padding needs r < size; so large a blur leaves only the mean
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x).clone()
    xp = F.pad(x, (r, r, r, r), mode="replicate")
    hp, wp = xp.shape[-2:]
    fh, fw = hp + 2 * r, wp + 2 * r  # room for the kernel: linear, not circular, convolution inside
    kp = torch.zeros(fh, fw, dtype=x.dtype, device=x.device)
    kp[: 2 * r + 1, : 2 * r + 1] = k
    out = torch.fft.irfft2(torch.fft.rfft2(xp, s=(fh, fw)) * torch.fft.rfft2(kp), s=(fh, fw))
    return out[..., 2 * r : 2 * r + h, 2 * r : 2 * r + w].contiguous()
