"""Levin's matting pyramid as the LBP pipeline's ``solveAlphaC2F`` walks it: halve, solve, upsample by the image.

``down2`` and ``up_smp`` are ``downSmpIm`` and ``upSmpIm`` on their exact grids; ``upsample_alpha`` is
``upSampleAlphaUsingImg``. The guide image is one per batch item (B×3) and the α maps any number per
image (B×S: the three LBP scales share their image), so the image's window statistics are computed once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _box3(x: torch.Tensor) -> torch.Tensor:
    """Sum over each 3×3 window fully inside the image, separably (avg_pool2d is ~5× slower on fp64 CPU)."""
    x = x[..., :-2, :] + x[..., 1:-1, :] + x[..., 2:, :]
    return x[..., :-2] + x[..., 1:-1] + x[..., 2:]


def box_mean3(x: torch.Tensor) -> torch.Tensor:
    """Mean over each 3×3 window fully inside the image (valid centres)."""
    return _box3(x) / 9


def window_stats(img: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per window the mean (B×3×h×w) and (Σ + ε/9·I)⁻¹ (B×3×3×h×w) of the guide image."""
    mu = box_mean3(img)
    prod = torch.stack([box_mean3(img[:, c : c + 1] * img) for c in range(3)], 1)  # B×3×3×h×w
    cov = prod - mu[:, :, None] * mu[:, None]
    eye = torch.eye(3, dtype=img.dtype, device=img.device)
    inv = torch.linalg.inv(cov.permute(0, 3, 4, 1, 2) + eps / 9 * eye)
    return mu, inv.permute(0, 3, 4, 1, 2).contiguous()  # elementwise products stay cheap


def _blur_pick(x: torch.Tensor, dim: int) -> torch.Tensor:
    """[1 4 6 4 1]/16 along ``dim`` at positions 2, 4, …, n − 3: where the 5 taps stay inside."""
    n = (x.shape[dim] - 3) // 2

    def tap(k: int) -> torch.Tensor:
        return x.narrow(dim, k, 2 * n - 1).unfold(dim, 1, 2).squeeze(-1)

    return (tap(0) + tap(4) + 4 * (tap(1) + tap(3)) + 6 * tap(2)) / 16


def down2(x: torch.Tensor) -> torch.Tensor:
    """Levin's ``downSmpIm(I, 2)``: ``conv2(..., 'same')`` by [1 4 6 4 1]/16, then ``I(3:2:end-2, …)``.

    MATLAB keeps (1-based) rows and columns 3, 5, …, end − 2, so a 480-row image gives 238 rows and
    the zero padding of ``conv2`` never reaches a kept pixel. Separable taps at the kept positions
    only: fp64 conv2d takes torch's slow path on the CPU.
    """
    return _blur_pick(_blur_pick(x, -2), -1)


def up_smp(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Levin's ``upSmpIm`` (filter [1 2 1]/2) from ``down2``'s grid: coarse sample j is fine pixel 2j + 2.

    Between samples the fine pixels take the sample or the mean of two (bilinear with aligned corners at
    exactly twice the resolution); beyond the first and last sample they repeat it, as ``upSmpIm``'s
    replicated rows do. ``size`` is the fine grid's (h, w), at least 2n + 1 per side for n samples.
    """
    (n, m), (h, w) = x.shape[-2:], size
    x = F.interpolate(x, size=(2 * n - 1, 2 * m - 1), mode="bilinear", align_corners=True)
    return F.pad(x, (2, w - (2 * m - 1) - 2, 2, h - (2 * n - 1) - 2), mode="replicate")


def upsample_alpha(
    alpha: torch.Tensor, small: torch.Tensor, big: torch.Tensor, eps: float = 1e-7
) -> torch.Tensor:
    """``upSampleAlphaUsingImg``: local linear α ≈ aᵀI + b fitted at the coarse level, applied at the fine.

    ``alpha`` B×S×h×w (S maps per image), ``small`` and ``big`` the B×3 guide at both levels.
    ``getLinearCoeff`` copies the coefficients of the outermost windows to the border pixels; ``upSmpIm``
    brings them to the fine grid.
    """
    b, s = alpha.shape[:2]
    mu, inv = window_stats(small, eps)
    pm = box_mean3(alpha)  # B×S
    ip = (
        torch.stack([box_mean3(small[:, c : c + 1] * alpha) for c in range(3)], 1)
        - mu[:, :, None] * pm[:, None]
    )
    a = (inv[:, :, :, None] * ip[:, None]).sum(2)  # B×3×S: the ridge solution (Σ + ε/9·I)⁻¹·cov(I, α)
    offset = pm - (a * mu[:, :, None]).sum(1)
    coef = torch.cat([a.flatten(1, 2), offset], 1)  # B×4S: a per channel, then b
    coef = up_smp(F.pad(coef, (1, 1, 1, 1), mode="replicate"), big.shape[-2:])
    out = coef[:, 3 * s :].clone()
    for c in range(3):
        out.addcmul_(coef[:, c * s : (c + 1) * s], big[:, c : c + 1])
    return out


def coarser(img: torch.Tensor, known: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One ``solveAlphaC2F`` level down: the image and the rounded constraints, halved.

    MATLAB's ``round`` takes halves away from zero (``torch.round`` to even): a binary map blurred by
    [1 4 6 4 1]/16 is exact in fp64, so a window weighing 128/256 lands on 0.5 exactly.
    """
    return down2(img), torch.floor(down2(known) + 0.5), torch.floor(down2(values) + 0.5)
