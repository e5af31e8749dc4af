"""Batched defocus blur for the device renderer: one FFT convolution per σ level, a PSF per sample.

The worker renderer blurs each (σ level, aperture) group with its own call; with a random iris rotation
per sample that is one call per polygon sample. Here every member of a level is blurred in one call: each
sample's PSF (Gaussian, disc or polygon, all of the level's σ) sits centred in a common support and the
convolution runs as one batched real FFT, with the replicate borders of ``blur.gaussian_blur`` and
``aperture.aperture_blur``.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from .aperture import aperture_kernel
from .blur import gaussian_kernel1d

GAUSSIAN = -1  # PSF code of a Gaussian; 0 = disc; n ≥ 3 = n-blade polygon
MAX_BLADES = 9  # polygonal irises have 5–9 blades (effects.draw_aperture)


def psf_radius(sigma: float, code: int) -> int:
    """Half-width of a PSF's support: ceil(3σ) for the Gaussian, the CoC radius for an aperture."""
    return max(1, math.ceil(3.0 * sigma)) if code == GAUSSIAN else math.ceil((4.0 * sigma + 1.0) / 2.0)


@functools.lru_cache(maxsize=512)
def _shared_kernel(sigma: float, code: int, radius: int, device: torch.device) -> torch.Tensor:
    """The Gaussian or disc PSF of ``sigma`` centred in a (2·radius + 1)² support (cached per device)."""
    if code == GAUSSIAN:
        k1 = gaussian_kernel1d(sigma, torch.float32, "cpu")
        k = k1[:, None] * k1[None, :]
    else:
        k = aperture_kernel(sigma, 0, 0.0)
    pad = radius - (k.shape[-1] - 1) // 2
    return F.pad(k, (pad, pad, pad, pad)).to(device)


@functools.lru_cache(maxsize=128)
def _supersampled_grid(r: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """4×-supersampled pixel-centre offsets of a (2r+1)² support, and the odd multiples 1, 3, … of an edge."""
    t = (torch.arange((2 * r + 1) * 4, dtype=torch.float64) + 0.5) / 4 - (r + 0.5)
    odd = 2 * torch.arange(MAX_BLADES, dtype=torch.float64).view(1, -1, 1, 1) + 1
    return t.to(device, dtype), odd.to(device, dtype)


def polygon_kernels(sigma: float, blades: torch.Tensor, rotation: torch.Tensor, radius: int) -> torch.Tensor:
    """Polygon-iris PSFs (``aperture.aperture_kernel``) for many (blades, rotation) at once, P×(2R+1)²."""
    dev = blades.device
    wide = torch.float32 if dev.type == "mps" else torch.float64  # MPS has no float64
    rad = (4.0 * sigma + 1.0) / 2.0
    r = math.ceil(rad)
    t, odd = _supersampled_grid(r, dev, wide)
    yy, xx = t.view(1, 1, -1, 1), t.view(1, 1, 1, -1)
    nb = blades.to(wide).view(-1, 1, 1, 1)
    apothem = rad * torch.cos(math.pi / nb)
    a = rotation.to(wide).view(-1, 1, 1, 1) + odd * (math.pi / nb)  # P×E: every edge's normal angle
    outside = (xx * a.cos() + yy * a.sin() > apothem) & (odd < 2 * nb)  # edges past the blade count: none
    kern = F.avg_pool2d((~outside.any(1)).to(wide)[:, None], 4)[:, 0]
    kern = (kern / kern.sum(dim=(1, 2), keepdim=True)).float()
    return F.pad(kern, (radius - r,) * 4)


def level_kernels(
    sigma: float, kinds: set[int], codes: torch.Tensor, rotations: torch.Tensor
) -> torch.Tensor:
    """The PSF of every member of a σ level, S×(2R+1)² with a common R.

    ``codes`` (device, S): GAUSSIAN, 0 (disc) or the blade count; ``kinds``: the codes present, known on
    the host, so that no device value has to be read back.
    """
    radius = max(psf_radius(sigma, c) for c in kinds)
    side = 2 * radius + 1
    out = None
    if any(c >= 3 for c in kinds):
        out = polygon_kernels(sigma, codes.clamp_min(3), rotations, radius)
    for code in (GAUSSIAN, 0):
        if code in kinds:
            k = _shared_kernel(float(sigma), code, radius, codes.device)
            out = (
                k.expand(len(codes), side, side)
                if out is None
                else torch.where((codes == code).view(-1, 1, 1), k, out)
            )
    return out


def _fast_size(n: int) -> int:
    """Smallest m ≥ n with no prime factor above 5: FFT lengths that every backend handles quickly."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


@functools.lru_cache(maxsize=256)
def _clamped(n: int, r: int, device: torch.device) -> torch.Tensor:
    """Indices −r … n + r − 1 clamped to [0, n − 1]: replicate padding as a gather."""
    return torch.arange(-r, n + r).clamp(0, n - 1).to(device)


def fft_blur(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Convolve every channel of sample i of S×C×H×W with ``kernels[i]`` ((2R+1)²), replicate borders."""
    _, _, h, w = x.shape
    r = (kernels.shape[-1] - 1) // 2
    xp = x[:, :, _clamped(h, r, x.device)][..., _clamped(w, r, x.device)]  # replicate padding, any r
    fh, fw = _fast_size(h + 2 * r), _fast_size(w + 2 * r)  # linear, not circular, where it is kept
    kp = torch.zeros(len(kernels), fh, fw, dtype=x.dtype, device=x.device)
    kp[:, : 2 * r + 1, : 2 * r + 1] = kernels
    spec = torch.fft.rfft2(xp, s=(fh, fw)) * torch.fft.rfft2(kp)[:, None]
    return torch.fft.irfft2(spec, s=(fh, fw))[..., 2 * r : 2 * r + h, 2 * r : 2 * r + w]
