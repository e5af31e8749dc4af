"""Closed-form matting (Levin et al. 2006) as the LBP pipeline's ``solveAlphaC2F`` runs it.

The solve runs at 1/4 resolution, then two guided ×2 upsamplings bring α back (``matting_pyramid``). The
matting Laplacian couples pixels at most two apart, so the system is built once per solve as a 5 × 5
stencil per pixel (25 coefficient maps, from ``getLaplacian1``'s window terms). Two solvers share it:

- ``"direct"``: a sparse LU per map (SciPy's SuperLU): the exact solution, as MATLAB's backslash in the
  authors' ``solveAlpha``; on the CPU also the faster one.
- ``"cg"``: Jacobi-preconditioned conjugate gradients in torch, a step being 25 shifted multiply-adds,
  batched on the tensors' device (the GPU path), run to a residual tolerance, warm-started one level down.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

from .matting_pyramid import coarser, upsample_alpha, window_stats

#: λ of ``solveAlpha``: the weight of the constraints against the Laplacian.
CONSTRAINT_WEIGHT = 100.0
SOLVERS = ("direct", "cg")
#: ``solve_cg``'s default stop: rᵀM⁻¹r at 1e-20 of its start (α within ~1e-7 of the exact solve)
CG_TOLERANCE = 1e-20
#: the stencil's offsets (dy, dx), entry k = (dy + 2)·5 + (dx + 2)
OFFSETS = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]


def laplacian_stencil(img: torch.Tensor, used: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """``getLaplacian1``'s affinities W as a stencil: 25×B×S×h×w; entry k of pixel p holds W[p, p + OFFSETS[k]].

    Window k adds (1 + (I_i − μ_k)ᵀ(Σ_k + ε/9·I)⁻¹(I_j − μ_k)) / 9 to W[i, j] for its nine pixels i, j;
    ``used`` (B×S×h−2×w−2, per window centre) is 0 for the windows ``getLaplacian1`` skips, which differ
    between the S constraint maps of one image; the window terms are the image's, computed once.
    The Laplacian is diag(Σ_j W[p, j]) − W.
    """
    b, _, h, w = img.shape
    hc, wc = h - 2, w - 2
    mu, inv = window_stats(img, eps)
    spots = [(dy, dx) for dy in range(3) for dx in range(3)]
    centred = torch.stack([img[:, :, dy : dy + hc, dx : dx + wc] - mu for dy, dx in spots], 1)  # B×9×3×hc×wc
    weighted = (inv[:, None] * centred[:, :, None]).sum(3)  # B×9×3: (Σ + ε/9·I)⁻¹(I_j − μ)
    used = used / 9
    stencil = img.new_zeros(5, 5, b, used.shape[1], h, w)
    for i, (yi, xi) in enumerate(spots):
        for j, (yj, xj) in enumerate(spots[i:], i):
            term = 1 + (centred[:, i] * weighted[:, j]).sum(1, keepdim=True)  # symmetric in i, j
            stencil[yj - yi + 2, xj - xi + 2, :, :, yi : yi + hc, xi : xi + wc].addcmul_(term, used)
            if j != i:
                stencil[yi - yj + 2, xi - xj + 2, :, :, yj : yj + hc, xj : xj + wc].addcmul_(term, used)
    return stencil.view(25, b, -1, h, w)


def system_stencil(img: torch.Tensor, known: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """A = L + λ·diag(known) as a stencil (25×B×S×h×w, the centre entry the diagonal): A x = Σ_k A_k·x(p + k)."""
    used = 1 + F.max_pool2d(-known, 3, stride=1)  # 1 − imerode(known, ones(3)) at window centres
    weights = laplacian_stencil(img, used, eps)
    diag = weights.sum(0) - weights[12] + CONSTRAINT_WEIGHT * known
    return torch.cat([-weights[:12], diag[None], -weights[13:]])


def stencil_apply(stencil: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Σ_k stencil_k · x(p + offset_k) with zeros outside: 25 shifted multiply-adds (faster than unfold)."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (2, 2, 2, 2))
    out = torch.zeros_like(x)
    for coeff, (dy, dx) in zip(stencil, OFFSETS, strict=True):
        out.addcmul_(coeff, padded[..., dy + 2 : dy + 2 + h, dx + 2 : dx + 2 + w])
    return out


def solve_cg(
    img: torch.Tensor, known: torch.Tensor, values: torch.Tensor, iters: int, tol: float = CG_TOLERANCE,
    eps: float = 1e-7, x0: torch.Tensor | None = None,
) -> torch.Tensor:  # fmt: skip
    """Minimise αᵀLα + λ Σ_known (α − v)² (λ = 100, ``solveAlpha``) by Jacobi-preconditioned CG.

    ``img`` B×3, ``known``/``values`` B×S (S constraint maps per image). ``x0``: a starting guess
    (default: the constraints, 0.5 elsewhere). The diagonal preconditioner matters: λ = 100 on
    constrained pixels against O(1) elsewhere. Stops after ``iters`` steps, or once every map's
    preconditioned residual rᵀM⁻¹r has fallen to ``tol`` times its start (checked every 50 steps: one
    device sync each). The system is so ill-conditioned (ε = 1e-7 in flat windows) that a relative
    residual of 1e-6 can still leave α wrong by 1 on a CUHK photo; 1e-20 gets within 1e-7 of the
    exact solution there, after 600–1000 steps. A map without constraints gets 0.5, as from
    ``solve_direct``.
    """
    stencil = system_stencil(img, known, eps).contiguous()
    minv = 1 / stencil[12].clamp_min(1e-12)
    rhs = CONSTRAINT_WEIGHT * known * values
    x = torch.where(known > 0, values, torch.full_like(values, 0.5)) if x0 is None else x0.clone()
    r = rhs - stencil_apply(stencil, x)
    z = minv * r
    p = z.clone()
    rz = (r * z).sum((2, 3), keepdim=True)
    stop = tol * rz
    for step_no in range(1, iters + 1):  # in place: the vectors are small, allocation costs as much as maths
        ap = stencil_apply(stencil, p)
        step = rz / (p * ap).sum((2, 3), keepdim=True).clamp_min(1e-300)
        x.addcmul_(step, p)
        r.addcmul_(step, ap, value=-1)
        torch.mul(minv, r, out=z)
        rz_new = (r * z).sum((2, 3), keepdim=True)
        p.mul_(rz_new / rz.clamp_min(1e-300)).add_(z)
        rz = rz_new
        if step_no % 50 == 0 and bool((rz <= stop).all()):
            break
    constrained = known.flatten(2).any(2)[..., None, None]  # else: rounding noise in L's null space
    return torch.where(constrained, x.clamp(0, 1), 0.5)


def _lu_solve(stencil: np.ndarray, rhs: np.ndarray, w: int) -> np.ndarray:
    """Solve one map's system, given as its 25 stencil maps (25×n) on a grid ``w`` wide, by sparse LU."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    n = rhs.size
    steps = [dy * w + dx for dy, dx in OFFSETS]
    diagonals = np.zeros_like(stencil)  # DIA keeps A[q − d, q] at column q: stencil row d moved by +d
    for k, d in enumerate(steps):
        diagonals[k, max(d, 0) : n + min(d, 0)] = stencil[k, max(-d, 0) : n - max(d, 0)]
    a = sp.dia_matrix((diagonals, steps), shape=(n, n)).tocsc()  # drops the zeros: off-grid neighbours
    lu = splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0, options={"SymmetricMode": True})
    return lu.solve(rhs)


def solve_direct(
    img: torch.Tensor, known: torch.Tensor, values: torch.Tensor, eps: float = 1e-7
) -> torch.Tensor:
    """The exact α = clip((L + λD)⁻¹ λDv), one sparse LU per map on the CPU (``solveAlpha``'s backslash).

    A is symmetric positive definite once one pixel is constrained: SuperLU with a symmetric ordering and
    diagonal pivots. The maps are solved in a thread pool of torch's size (SuperLU releases the GIL).
    A map with no constraint has no unique solution (L's null space holds the constants): it gets 0.5,
    what the CG solver returns from its start there.
    """
    w = img.shape[-1]
    stencil = system_stencil(img, known, eps).flatten(3).cpu().numpy()  # 25×B×S×n
    rhs = (CONSTRAINT_WEIGHT * known * values).flatten(2).cpu().numpy()
    out = torch.full_like(values, 0.5).flatten(2)
    todo = torch.nonzero(known.flatten(2).any(2)).tolist()
    with ThreadPoolExecutor(max(1, min(len(todo), torch.get_num_threads()))) as pool:
        solved = pool.map(lambda bs: _lu_solve(stencil[:, bs[0], bs[1]], rhs[bs[0], bs[1]], w), todo)
        for (bi, si), alpha in zip(todo, solved, strict=True):
            out[bi, si] = torch.from_numpy(alpha).to(out)
    return out.view_as(values).clamp(0, 1)


def matte(
    img: torch.Tensor, known: torch.Tensor, values: torch.Tensor, levels: int = 3, solver: str = "direct",
    iters: int = 2000, tol: float = CG_TOLERANCE,
) -> torch.Tensor:  # fmt: skip
    """``solveAlphaC2F(levels, active=1)``: solve at the coarsest level, guided upsampling back up.

    ``img`` B×3, ``known``/``values`` B×S: S constraint maps per image, α B×S. ``solver="cg"``
    (``iters``, ``tol``: ``solve_cg``'s) starts from the solution one level coarser, guided-upsampled:
    a warm start for the smooth error modes CG is slowest on. ``"direct"`` needs none.
    """
    if solver not in SOLVERS:
        raise ValueError(f"matting solver must be one of {SOLVERS}, got {solver!r}")
    if levels > 1 and min(img.shape[-2:]) >= 12:
        s_img, s_known, s_values = coarser(img, known, values)
        return upsample_alpha(matte(s_img, s_known, s_values, levels - 1, solver, iters, tol), s_img, img)
    if solver == "direct":
        return solve_direct(img, known, values)
    x0 = None
    if min(img.shape[-2:]) >= 24:
        s_img, s_known, s_values = coarser(img, known, values)
        x0 = upsample_alpha(solve_cg(s_img, s_known, s_values, iters, tol), s_img, img).clamp(0, 1)
    return solve_cg(img, known, values, iters, tol, x0=x0)
