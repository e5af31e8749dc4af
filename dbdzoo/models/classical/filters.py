"""Image filters the classical methods share, written to match MATLAB/OpenCV semantics exactly.

Batched over B×1×H×W tensors on any device: MATLAB's Gaussian kernels, replicate and symmetric padding,
box sums from integral images, the local entropy of ``entropyfilt`` and Gastal & Oliveira's
domain-transform recursive filter (the ``RF`` function HiFST ships).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def gaussian_kernel(sigma: float, size: int, device: torch.device | None, dtype: torch.dtype) -> torch.Tensor:
    """``fspecial('gaussian', [size size], sigma)``: a normalised 2-D Gaussian."""
    r = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(r[:, None] ** 2 + r[None] ** 2) / (2 * sigma**2))
    return g / g.sum()


def pad_replicate(x: torch.Tensor, p: int) -> torch.Tensor:
    """Replicate (edge) padding by ``p`` on both spatial sides."""
    return F.pad(x, (p, p, p, p), mode="replicate") if p else x


def _symmetric_index(n: int, p: int, device: torch.device) -> torch.Tensor:
    idx = torch.arange(-p, n + p, device=device) % (2 * n)
    return torch.where(idx >= n, 2 * n - 1 - idx, idx)


def pad_symmetric(x: torch.Tensor, p: int) -> torch.Tensor:
    """MATLAB ``padarray(..., 'symmetric')``: mirror including the edge pixel (any size, even p > n)."""
    h, w = x.shape[-2:]
    return x[..., _symmetric_index(h, p, x.device), :][..., _symmetric_index(w, p, x.device)]


def box_sum(x: torch.Tensor, k: int) -> torch.Tensor:
    """Sums over every k×k window (valid positions) from an integral image, as ``cv2.integral`` use does."""
    s = F.pad(x.double().cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    return s[..., k:, k:] - s[..., :-k, k:] - s[..., k:, :-k] + s[..., :-k, :-k]


def entropy_7x7(levels: torch.Tensor, window: int = 7, rows_per_chunk: int = 32) -> torch.Tensor:
    """``entropyfilt(uint8 image, true(window))``: base-2 entropy of the 256-bin histogram in each window.

    ``levels`` holds integer values 0–255 (B×1×H×W); symmetric padding as MATLAB. With n = window²
    and c_j the count of pixel j's value in the window, −Σ_bins p·log2(p) = log2(n) − Σ_j log2(c_j) / n:
    the histograms are built by one scatter-add per window offset and read back by one gather per
    offset, n passes over the pixels instead of 256 per-bin box sums.
    """
    p = window // 2
    n = window * window
    padded = pad_symmetric(levels, p).long().clamp(0, 255)
    b, _, h, w = levels.shape
    log2 = torch.log2(torch.arange(n + 1, dtype=torch.float64, device=levels.device).clamp_min(1))
    offsets = [(dy, dx) for dy in range(window) for dx in range(window)]
    out = []
    for r0 in range(0, h, rows_per_chunk):
        r1 = min(h, r0 + rows_per_chunk)
        shifted = [padded[:, :, r0 + dy : r1 + dy, dx : dx + w] for dy, dx in offsets]
        counts = torch.zeros(b, 256, r1 - r0, w, dtype=torch.int32, device=levels.device)
        one = torch.ones(b, 1, r1 - r0, w, dtype=torch.int32, device=levels.device)
        for v in shifted:
            counts.scatter_add_(1, v, one)
        total = sum(log2[counts.gather(1, v)] for v in shifted)
        out.append(math.log2(n) - total / n)
    return torch.cat(out, -2).to(levels.dtype if levels.is_floating_point() else torch.float64)


def _recursive_pass(f: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Left→right then right→left first-order recursion along dim 0 (rows are contiguous columns)."""
    f = f.clone()
    for i in range(1, f.shape[0]):
        f[i] += v[i] * (f[i - 1] - f[i])
    for i in range(f.shape[0] - 2, -1, -1):
        f[i] += v[i + 1] * (f[i + 1] - f[i])
    return f


def domain_transform_rf(
    img: torch.Tensor, guide: torch.Tensor, sigma_s: float, sigma_r: float, iterations: int = 3
) -> torch.Tensor:
    """Domain-transform recursive edge-preserving filter (Gastal & Oliveira 2011), HiFST's ``RF``.

    ``img`` and ``guide`` are B×1×H×W; the horizontal and vertical passes alternate ``iterations`` times
    with σ_H,i = σ_s·√3·2^(N−i−1)/√(4^N − 1).
    """
    b, _, h, w = img.shape
    dx = torch.zeros_like(guide)
    dy = torch.zeros_like(guide)
    dx[..., :, 1:] = (guide[..., :, 1:] - guide[..., :, :-1]).abs()
    dy[..., 1:, :] = (guide[..., 1:, :] - guide[..., :-1, :]).abs()
    dhdx = (1 + sigma_s / sigma_r * dx)[:, 0].permute(2, 0, 1).reshape(w, b * h)  # columns first
    dvdy = (1 + sigma_s / sigma_r * dy)[:, 0].permute(1, 0, 2).reshape(h, b * w)
    f = img[:, 0]
    for i in range(iterations):
        sigma = sigma_s * math.sqrt(3) * 2 ** (iterations - i - 1) / math.sqrt(4**iterations - 1)
        a = math.exp(-math.sqrt(2) / sigma)
        f = _recursive_pass(f.permute(2, 0, 1).reshape(w, b * h), a**dhdx).reshape(w, b, h).permute(1, 2, 0)
        f = _recursive_pass(f.permute(1, 0, 2).reshape(h, b * w), a**dvdy).reshape(h, b, w).permute(1, 0, 2)
    return f[:, None]
