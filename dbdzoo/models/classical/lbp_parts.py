"""LBP sharpness (Yi & Eramian, TIP 2016) and the closed-form matting its pipeline runs per scale.

``lbp_sharpness`` reproduces the authors' ``lbpSharpness.py`` (xinario/defocus_segmentation) bit for bit,
including its integral-image window of (s − 1)² pixels divided by s²; ``lbp_sharpness_matlab`` follows
``lbpSharpness.m``, the code ``demo.m`` runs. The matting follows Levin et al.
(2006) as the authors' ``solveAlphaC2F`` calls it (solve at 1/4 resolution, then two guided ×2
upsamplings), with preconditioned conjugate gradients on a matrix-free matting Laplacian instead of a sparse
direct solve.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import min_max
from .filters import box_sum, pad_replicate

#: OpenCV 5's fixed-point BGR2GRAY weights for 8-bit images (R, G, B) with a 16-bit shift. OpenCV ≤ 4
#: (the authors' era) used 14 bits (4899, 9617, 1868): one grey level apart on a few pixels in a thousand.
CV_GREY = (19595, 38470, 7471)


def cv_grey(levels: torch.Tensor) -> torch.Tensor:
    """``cv2.cvtColor(BGR2GRAY)`` of 8-bit RGB levels (B×3×H×W floats 0–255) → B×1×H×W levels."""
    w = torch.tensor(CV_GREY, dtype=torch.float64, device=levels.device).view(1, 3, 1, 1)
    return torch.floor(((levels.double() * w).sum(1, keepdim=True) + 32768) / 65536)


def lbp_riu2(grey: torch.Tensor, threshold: float, matlab: bool = False) -> torch.Tensor:
    """Rotation-invariant uniform LBP(8,1) codes 0–9, as the authors' ``lbpCode``.

    Python (default): on min-max normalised grey, threshold as given. MATLAB ``lbpCode.m``
    (``matlab=True``): on the 0–255 levels with the threshold times 255 and the interpolated
    neighbours floored.
    """
    if matlab:
        i, threshold = grey, threshold * 255
    else:
        lo = grey.amin((-2, -1), keepdim=True)
        i = (grey - lo) / (grey.amax((-2, -1), keepdim=True) - lo)
    pt = pad_replicate(i, 1)
    h, w = i.shape[-2:]

    def at(dy: int, dx: int) -> torch.Tensor:
        return pt[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    o = math.sqrt(2) / 2
    right, left, above, below = at(0, 1), at(0, -1), at(-1, 0), at(1, 0)

    def diag(side: torch.Tensor, vert: torch.Tensor, corner: torch.Tensor) -> torch.Tensor:
        d = (1 - o) * ((1 - o) * i + o * side) + o * ((1 - o) * vert + o * corner)
        return torch.floor(d) if matlab else d

    ring = [
        right, diag(right, above, at(-1, 1)), above, diag(left, above, at(-1, -1)),
        left, diag(left, below, at(1, -1)), below, diag(right, below, at(1, 1)),
    ]  # fmt: skip
    s = torch.stack([(n - i - threshold > 0).double() for n in ring])
    u = (s - s.roll(1, 0)).abs().sum(0)
    return torch.where(u > 2, torch.full_like(u, 9.0), s.sum(0))


def lbp_sharpness(grey: torch.Tensor, size: int, threshold: float) -> torch.Tensor:
    """The authors' ``lbpSharpness(im_gray, s, threshold)`` (Python): share of codes 6–9 per window."""
    r = (size - 1) // 2
    sharp = (lbp_riu2(grey, threshold) >= 6).double()
    return box_sum(pad_replicate(sharp, r), size - 1)[..., : grey.shape[-2], : grey.shape[-1]] / size**2


def lbp_sharpness_matlab(grey: torch.Tensor, size: int, threshold: float) -> torch.Tensor:
    """The authors' ``lbpSharpness.m`` (what ``demo.m`` runs): the full s × s window, min-max normalised.

    ``grey`` holds MATLAB ``rgb2gray`` levels (``matlab_grey``).
    """
    sharp = (lbp_riu2(grey, threshold, matlab=True) >= 6).double()
    m = box_sum(pad_replicate(sharp, (size - 1) // 2), size) / size**2
    return min_max(m)  # a constant map becomes 0, not NaN


# -- closed-form matting ---------------------------------------------------------------------------
def _box3(x: torch.Tensor) -> torch.Tensor:
    """Sum over each 3×3 window fully inside the image, separably (avg_pool2d is ~5× slower on fp64 CPU)."""
    x = x[..., :-2, :] + x[..., 1:-1, :] + x[..., 2:, :]
    return x[..., :-2] + x[..., 1:-1] + x[..., 2:]


def _box_mean3(x: torch.Tensor) -> torch.Tensor:
    """Mean over each 3×3 window fully inside the image (valid centres)."""
    return _box3(x) / 9


def _window_stats(img: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-window mean (B×3×h×w) and (Σ + ε/9·I)⁻¹ (B×h×w×3×3) of the guide image."""
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


def _window_total(q: torch.Tensor) -> torch.Tensor:
    """Σ over the 3×3 windows containing each pixel of a per-window quantity (valid centres)."""
    return _box3(F.pad(q, (2, 2, 2, 2)))


def _laplacian_apply(
    p: torch.Tensor, img: torch.Tensor, mu: torch.Tensor, inv: torch.Tensor, used: torch.Tensor
) -> torch.Tensor:
    """Levin's matting Laplacian times ``p`` without building it (He, Sun & Tang 2010).

    ``used`` (B×1×h×w, per valid window centre) is 0 for the windows ``getLaplacian1`` skips: those
    whose nine pixels are all constrained.
    """
    a, b = _linear_coeffs(p, img, mu, inv)
    n = _window_total(used)
    return n * p - (_window_total(a * used) * img).sum(1, keepdim=True) - _window_total(b * used)


def _diagonal(op, like: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    """The exact diagonal of the operator by probing: it couples pixels at most 2 apart (5×5 classes)."""
    h, w = like.shape[-2:]
    yy = torch.arange(h, device=like.device)[:, None] % 5
    xx = torch.arange(w, device=like.device)[None] % 5
    diag = torch.zeros_like(like)
    for cy in range(5):
        for cx in range(5):
            e = ((yy == cy) & (xx == cx)).to(like).expand_as(like)
            diag += op(e) * e
    return diag


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
    lam = 100.0
    mu, inv = _window_stats(img, eps)
    used = 1 + F.max_pool2d(-known, 3, stride=1)  # 1 − imerode(known, ones(3)) at window centres
    op = lambda x: _laplacian_apply(x, img, mu, inv, used) + lam * known * x  # noqa: E731
    minv = 1 / _diagonal(op, known).clamp_min(1e-12)
    rhs = lam * known * values
    x = torch.where(known > 0, values, torch.full_like(values, 0.5)) if x0 is None else x0
    r = rhs - op(x)
    z = minv * r
    p = z.clone()
    rz = (r * z).sum((1, 2, 3), keepdim=True)
    for _ in range(iters):
        ap = op(p)
        step = rz / (p * ap).sum((1, 2, 3), keepdim=True).clamp_min(1e-30)
        x = x + step * p
        r = r - step * ap
        z = minv * r
        rz_new = (r * z).sum((1, 2, 3), keepdim=True)
        p = z + rz_new / rz.clamp_min(1e-30) * p
        rz = rz_new
    return x.clamp(0, 1)


def down2(x: torch.Tensor) -> torch.Tensor:
    """``downSmpIm(I, 2)``: [1 4 6 4 1]/16 blur (replicate) then every second pixel."""
    k = torch.tensor([1.0, 4, 6, 4, 1], dtype=x.dtype, device=x.device) / 16
    b, c, h, w = x.shape
    y = pad_replicate(x, 2).reshape(b * c, 1, h + 4, w + 4)
    y = F.conv2d(F.conv2d(y, k.view(1, 1, 5, 1)), k.view(1, 1, 1, 5))
    return y.view(b, c, h, w)[..., ::2, ::2]


def upsample_alpha(
    alpha: torch.Tensor, small: torch.Tensor, big: torch.Tensor, eps: float = 1e-7
) -> torch.Tensor:
    """``upSampleAlphaUsingImg``: local linear α ≈ aᵀI + b fitted at the coarse level, applied at the fine."""
    mu, inv = _window_stats(small, eps)
    a, b = _linear_coeffs(alpha, small, mu, inv)
    coef = F.pad(torch.cat([a, b], 1), (1, 1, 1, 1), mode="replicate")
    coef = F.interpolate(coef, size=big.shape[-2:], mode="bilinear", align_corners=False)
    return (coef[:, :3] * big).sum(1, keepdim=True) + coef[:, 3:]


def _coarser(img: torch.Tensor, known: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One ``solveAlphaC2F`` level down: the image and the rounded constraints, halved."""
    return down2(img), torch.round(down2(known)), torch.round(down2(values))


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
