"""Closed-form matting (Levin et al. 2006) as the LBP pipeline's ``solveAlphaC2F`` runs it.

The solve runs at 1/4 resolution, then two guided ×2 upsamplings bring α back. The matting Laplacian
couples pixels at most two apart, so it is built once per solve as 25 coefficient maps (a 5 × 5 stencil per
pixel, from ``getLaplacian1``'s window terms). Each conjugate-gradient step is then 25 shifted
multiply-adds. Its diagonal, the Jacobi preconditioner, is read off the stencil instead of probed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: λ of ``solveAlpha``: the weight of the constraints against the Laplacian.
CONSTRAINT_WEIGHT = 100.0


def _box3(x: torch.Tensor) -> torch.Tensor:
    """Sum over each 3×3 window fully inside the image, separably (avg_pool2d is ~5× slower on fp64 CPU)."""
    x = x[..., :-2, :] + x[..., 1:-1, :] + x[..., 2:, :]
    return x[..., :-2] + x[..., 1:-1] + x[..., 2:]


def _box_mean3(x: torch.Tensor) -> torch.Tensor:
    """Mean over each 3×3 window fully inside the image (valid centres)."""
    return _box3(x) / 9


def _window_stats(img: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-window mean (B×3×h×w) and (Σ + ε/9·I)⁻¹ (B×3×3×h×w) of the guide image."""
    mu = _box_mean3(img)
    prod = torch.stack([_box_mean3(img[:, c : c + 1] * img) for c in range(3)], 1)  # B×3×3×h×w
    cov = prod - mu[:, :, None] * mu[:, None]
    eye = torch.eye(3, dtype=img.dtype, device=img.device)
    inv = torch.linalg.inv(cov.permute(0, 3, 4, 1, 2) + eps / 9 * eye)
    return mu, inv.permute(0, 3, 4, 1, 2).contiguous()  # B×3×3×h×w: elementwise products stay cheap


def _linear_coeffs(
    p: torch.Tensor, img: torch.Tensor, mu: torch.Tensor, inv: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per window the least-squares a (B×3×h×w) and b (B×1×h×w) of p ≈ aᵀI + b, ridge ε."""
    pm = _box_mean3(p)
    ip = _box_mean3(img * p) - mu * pm
    a = (inv * ip[:, None]).sum(2)
    return a, pm - (a * mu).sum(1, keepdim=True)


def laplacian_stencil(img: torch.Tensor, used: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """``getLaplacian1``'s affinities W as a stencil: B×25×h×w; entry (dy+2)·5 + (dx+2) of pixel p holds
    W[p, p + (dy, dx)].

    Window k adds (1 + (I_i − μ_k)ᵀ(Σ_k + ε/9·I)⁻¹(I_j − μ_k)) / 9 to W[i, j] for its nine pixels i, j;
    ``used`` (B×1×h−2×w−2, per window centre) is 0 for the windows ``getLaplacian1`` skips. The Laplacian
    is diag(Σ_j W[p, j]) − W.
    """
    b, _, h, w = img.shape
    hc, wc = h - 2, w - 2
    mu, inv = _window_stats(img, eps)
    spots = [(dy, dx) for dy in range(3) for dx in range(3)]
    centred = torch.stack([img[:, :, dy : dy + hc, dx : dx + wc] - mu for dy, dx in spots], 1)  # B×9×3×hc×wc
    weighted = torch.einsum("brcyx,bicyx->biryx", inv, centred)
    terms = (1 + torch.einsum("biryx,bjryx->bijyx", centred, weighted)) * (used[:, :, None] / 9)
    stencil = img.new_zeros(b, 5, 5, h, w)
    for i, (yi, xi) in enumerate(spots):
        for j, (yj, xj) in enumerate(spots):
            stencil[:, yj - yi + 2, xj - xi + 2, yi : yi + hc, xi : xi + wc] += terms[:, i, j]
    return stencil.view(b, 25, h, w)


def stencil_apply(kernel: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Σ_k kernel_k · x(p + offset_k) with zeros outside: 25 shifted multiply-adds (faster than unfold)."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (2, 2, 2, 2))
    out = torch.zeros_like(x)
    for k, coeff in enumerate(kernel):
        dy, dx = divmod(k, 5)
        out.addcmul_(coeff, padded[..., dy : dy + h, dx : dx + w])
    return out


def solve_alpha(
    img: torch.Tensor,
    known: torch.Tensor,
    values: torch.Tensor,
    iters: int,
    eps: float = 1e-7,
    x0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Minimise αᵀLα + λ Σ_known (α − v)² (λ = 100, ``solveAlpha``) by Jacobi-preconditioned CG.

    ``x0``: a starting guess (default: the constraints, 0.5 elsewhere). The diagonal preconditioner
    matters: λ = 100 on constrained pixels against O(1) elsewhere.
    """
    used = 1 + F.max_pool2d(-known, 3, stride=1)  # 1 − imerode(known, ones(3)) at window centres
    weights = laplacian_stencil(img, used, eps)
    diag = weights.sum(1, keepdim=True) - weights[:, 12:13] + CONSTRAINT_WEIGHT * known
    kernel = [-w.contiguous() for w in weights.split(1, 1)]
    kernel[12] = diag  # A = L + λ·diag(known) as one stencil: A x = Σ_k kernel_k · x(p + offset_k)
    op = lambda x: stencil_apply(kernel, x)  # noqa: E731
    minv = 1 / diag.clamp_min(1e-12)
    rhs = CONSTRAINT_WEIGHT * known * values
    x = torch.where(known > 0, values, torch.full_like(values, 0.5)) if x0 is None else x0.clone()
    r = rhs - op(x)
    z = minv * r
    p = z.clone()
    rz = (r * z).sum((1, 2, 3), keepdim=True)
    for _ in range(iters):  # in place: the vectors are small, allocation would cost as much as the maths
        ap = op(p)
        step = rz / (p * ap).sum((1, 2, 3), keepdim=True).clamp_min(1e-30)
        x.addcmul_(step, p)
        r.addcmul_(step, ap, value=-1)
        torch.mul(minv, r, out=z)
        rz_new = (r * z).sum((1, 2, 3), keepdim=True)
        p.mul_(rz_new / rz.clamp_min(1e-30)).add_(z)
        rz = rz_new
    return x.clamp(0, 1)


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

    ``getLinearCoeff`` copies the coefficients of the outermost windows to the border pixels; ``upSmpIm``
    brings them to the fine grid.
    """
    mu, inv = _window_stats(small, eps)
    a, b = _linear_coeffs(alpha, small, mu, inv)
    coef = F.pad(torch.cat([a, b], 1), (1, 1, 1, 1), mode="replicate")
    coef = up_smp(coef, big.shape[-2:])
    return (coef[:, :3] * big).sum(1, keepdim=True) + coef[:, 3:]


def _coarser(img: torch.Tensor, known: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One ``solveAlphaC2F`` level down: the image and the rounded constraints, halved.

    MATLAB's ``round`` takes halves away from zero (``torch.round`` to even): a binary map blurred by
    [1 4 6 4 1]/16 is exact in fp64, so a window weighing 128/256 lands on 0.5 exactly.
    """
    return down2(img), torch.floor(down2(known) + 0.5), torch.floor(down2(values) + 0.5)


def matte(
    img: torch.Tensor, known: torch.Tensor, values: torch.Tensor, iters: int, levels: int = 3
) -> torch.Tensor:
    """``solveAlphaC2F(levels, active=1)``: solve at the coarsest level, guided upsampling back up.

    The solve starts from the next coarser level's solution (same iterations there, guided-upsampled):
    a warm start for the smooth error modes CG is slowest on: the same iteration count gets closer to the
    converged α (the count is fixed, so the α returned differs from a cold start's).
    """
    if levels > 1 and min(img.shape[-2:]) >= 12:
        s_img, s_known, s_values = _coarser(img, known, values)
        return upsample_alpha(matte(s_img, s_known, s_values, iters, levels - 1), s_img, img)
    x0 = None
    if min(img.shape[-2:]) >= 24:
        s_img, s_known, s_values = _coarser(img, known, values)
        x0 = upsample_alpha(solve_alpha(s_img, s_known, s_values, iters), s_img, img).clamp(0, 1)
    return solve_alpha(img, known, values, iters, x0=x0)
