"""Structure-aware saliency-style measures per image: S-measure, E-measure and weighted F-measure.

These are **extras beyond the DBD papers' protocols** (no DBD paper's table uses them in a way that
dbdzoo reproduces); they follow the salient-object-detection definitions as implemented by
PySODMetrics (lartpang, MIT) with ``normalize=False``, re-implemented here in PyTorch (float64, any
device) without scipy. See ``docs/metrics.md`` ("Structure measures") for formulas, sources and the
few places where dbdzoo defines degenerate cases differently.

Inputs of the per-image functions are 2-D maps (numpy arrays or tensors; leading singleton dims are
dropped): ``pred`` a probability map in [0, 1] scored as is (no min-max normalisation), ``gt`` a
GT map binarised at ``gt > 0.5``. The foreground is whatever class the maps encode; the evaluator
handles dbdzoo's polarity (``positive="blur"`` scores the blur probabilities against GT 1 = blurred);
it lives in ``structure_evaluator``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

EPS = float(np.spacing(1))  # MATLAB's eps, as PySODMetrics uses it
N_THRESHOLDS = 256
_GAUSS_RADIUS = 3  # 7x7 kernel


class EMeasure(NamedTuple):
    """E-measure of one image: adaptive-threshold value, mean and max over the 256-threshold curve."""

    adaptive: float
    mean: float
    max: float
    curve: np.ndarray  # E at threshold t/255 for t = 0..255 (ascending), map quantised to floor(255 p)


# ---------------------------------------------------------------------------------------------- inputs
def _to_2d(x: np.ndarray | Tensor, what: str, device: torch.device | None = None) -> Tensor:
    t = x if isinstance(x, Tensor) else torch.from_numpy(np.asarray(x))
    if device is not None:
        t = t.to(device)
    while t.dim() > 2 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 2:
        raise ValueError(f"{what} must be a single H x W map, got shape {tuple(t.shape)}")
    return t


def _prepare(pred: np.ndarray | Tensor, gt: np.ndarray | Tensor) -> tuple[Tensor, Tensor]:
    """``pred`` as float64, ``gt`` as a bool mask (> 0.5), same device and shape."""
    p = _to_2d(pred, "pred").to(torch.float64)
    g = _to_2d(gt, "gt", p.device)
    if p.shape != g.shape:
        raise ValueError(f"pred {tuple(p.shape)} and gt {tuple(g.shape)} differ in size; resize first")
    if not bool(torch.isfinite(p).all()):
        raise ValueError("pred contains NaN/inf")
    g = g if g.dtype == torch.bool else g.to(torch.float64) > 0.5
    return p, g


# ---------------------------------------------------------------------------------------------- S-measure
def _s_object(x: Tensor) -> float:
    """2·mean / (mean² + 1 + std + eps), sample std (ddof 1; 0 for a single pixel)."""
    m = x.mean()
    std = x.std(correction=1) if x.numel() > 1 else torch.zeros_like(m)
    return float(2 * m / (m * m + 1 + std + EPS))


def _ssim(x: Tensor, gb: Tensor) -> float:
    """Fan et al.'s SSIM of one quadrant (sample moments; 1 when both maps are constant-matching)."""
    y = gb.to(torch.float64)
    n = x.numel()
    mx, my = x.mean(), y.mean()
    dx, dy = x - mx, y - my
    d = max(n - 1, 1)  # PySODMetrics divides by N - 1 even for a 1-pixel quadrant (-> NaN)
    sx, sy, sxy = (dx * dx).sum() / d, (dy * dy).sum() / d, (dx * dy).sum() / d
    a = float(4 * mx * my * sxy)
    b = float((mx * mx + my * my) * (sx + sy))
    if a != 0:
        return a / (b + EPS)
    return 1.0 if b == 0 else 0.0


def _s_region(p: Tensor, g: Tensor) -> float:
    h, w = g.shape
    ys, xs = torch.nonzero(g, as_tuple=True)
    # centroid rounded half-to-even (numpy/torch round, as PySODMetrics), +1 as MATLAB's 1:X ranges
    cy = int(torch.round(ys.to(torch.float64).mean())) + 1
    cx = int(torch.round(xs.to(torch.float64).mean())) + 1
    area = h * w
    parts = (
        (slice(0, cy), slice(0, cx), cy * cx),
        (slice(0, cy), slice(cx, w), cy * (w - cx)),
        (slice(cy, h), slice(0, cx), (h - cy) * cx),
        (slice(cy, h), slice(cx, w), (h - cy) * (w - cx)),
    )
    # an empty quadrant (centroid in the last row/column) has weight 0 and is skipped
    return sum(n / area * _ssim(p[r, c], g[r, c]) for r, c, n in parts if n > 0)


def _s_measure(p: Tensor, g: Tensor, alpha: float) -> float:
    mu = float(g.to(torch.float64).mean())
    if mu == 0:
        return 1.0 - float(p.mean())
    if mu == 1:
        return float(p.mean())
    obj = _s_object(p[g]) * mu + _s_object(1 - p[~g]) * (1 - mu)
    return max(0.0, alpha * obj + (1 - alpha) * _s_region(p, g))


def s_measure(pred: np.ndarray | Tensor, gt: np.ndarray | Tensor, alpha: float = 0.5) -> float:
    """Structure measure S = α·S_object + (1 − α)·S_region (Fan et al., ICCV 2017), clipped at 0.

    GT without foreground: S = 1 − mean(pred); GT all foreground: S = mean(pred).
    """
    p, g = _prepare(pred, gt)
    return _s_measure(p, g, alpha)


# ---------------------------------------------------------------------------------------------- E-measure
def _enhanced_sum(fg_fg: Tensor, fg_bg: Tensor, n: int, n_gt: int) -> Tensor:
    """Sum of the enhanced alignment matrix for a binary map with the given confusion counts.

    Every pixel falls in one of four (map, GT) cells; its demeaned values are (1 or 0) − mean, so the
    matrix takes only four values: ((1 + ξ)² / 4 with ξ = 2ab / (a² + b² + eps)).
    """
    pf = fg_fg + fg_bg
    if n_gt == 0:
        return n - pf
    if n_gt == n:
        return pf
    bg_fg = n_gt - fg_fg
    bg_bg = (n - pf) - bg_fg
    mp, mg = pf / n, n_gt / n
    total = torch.zeros_like(pf)
    for count, a, b in (
        (fg_fg, 1 - mp, 1 - mg),
        (fg_bg, 1 - mp, -mg),
        (bg_fg, -mp, 1 - mg),
        (bg_bg, -mp, -mg),
    ):
        xi = 2 * a * b / (a * a + b * b + EPS)
        total = total + (xi + 1) ** 2 / 4 * count
    return total


def _e_measure(p: Tensor, g: Tensor) -> tuple[float, Tensor]:
    n, n_gt = g.numel(), int(g.sum())
    thr = min(2 * float(p.mean()), 1.0)
    b = p >= thr
    counts = torch.stack([(b & g).sum(), (b & ~g).sum()]).to(torch.float64)
    adaptive = float(_enhanced_sum(counts[0], counts[1], n, n_gt) / (n - 1 + EPS))
    q = torch.floor(p * 255).clamp_(0, 255).long()  # np.uint8(p * 255), as PySODMetrics

    def at_or_above(mask: Tensor) -> Tensor:  # pixels with q >= t, t = 0..255
        hist = torch.bincount(q[mask], minlength=N_THRESHOLDS).to(torch.float64)
        return hist.flip(0).cumsum(0).flip(0)

    curve = _enhanced_sum(at_or_above(g), at_or_above(~g), n, n_gt) / (n - 1 + EPS)
    return adaptive, curve


def e_measure(pred: np.ndarray | Tensor, gt: np.ndarray | Tensor) -> EMeasure:
    """Enhanced-alignment measure (Fan et al., IJCAI 2018).

    ``adaptive``: map binarised at ``pred >= min(2·mean(pred), 1)``; ``curve``: map quantised to
    floor(255·p) and binarised at ``>= t`` for t = 0..255; ``mean``/``max`` over that curve.
    E = Σ (1 + ξ)² / 4 / (H·W − 1), ξ = 2 φ_GT φ_FM / (φ_GT² + φ_FM²), φ = map − mean(map); GT without
    foreground: Σ (1 − FM) / (H·W − 1); GT all foreground: Σ FM / (H·W − 1).
    """
    p, g = _prepare(pred, gt)
    adaptive, curve = _e_measure(p, g)
    return EMeasure(adaptive, float(curve.mean()), float(curve.max()), curve.cpu().numpy())


# ---------------------------------------------------------------------------------------------- weighted F
def _gaussian7(device: torch.device) -> Tensor:
    """MATLAB ``fspecial('gaussian', 7, 5)``."""
    r = torch.arange(-_GAUSS_RADIUS, _GAUSS_RADIUS + 1, dtype=torch.float64, device=device)
    k = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 5.0**2))
    return k / k.sum()


def _distance_to_foreground(g: Tensor) -> Tensor:
    """Exact Euclidean distance from every pixel to the nearest True pixel of ``g`` (0 on it).

    OpenCV's exact (``DIST_MASK_PRECISE``) transform works in float32; squared distances are integers,
    so rounding them restores the exact value in float64. ``g`` must contain a True pixel.
    """
    src = (~g).to(torch.uint8).cpu().numpy()
    d = cv2.distanceTransform(src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float64)
    return torch.from_numpy(np.sqrt(np.round(d * d))).to(g.device)


def _nearest_foreground_index(g: Tensor, radius: int) -> tuple[Tensor, Tensor, Tensor]:
    """(row, col) of a nearest True pixel of ``g`` for every pixel whose distance to it is <= ``radius``.

    Separable and exact within the radius: the nearest foreground row of each column (cumulative
    max/min), then per row the minimum of k² + dy(x + k)² over column offsets |k| <= radius. Ties keep
    the first candidate (the upper row; offset 0, then -k before +k). Returns ``(rows, cols, found)``;
    pixels farther than ``radius`` may get a non-nearest pixel or none (``found`` False).
    """
    h, w = g.shape
    f64 = dict(dtype=torch.float64, device=g.device)
    rows = torch.arange(h, **f64)[:, None].expand(h, w)
    inf = torch.tensor(math.inf, **f64)
    up = torch.where(g, rows, -inf).cummax(0).values  # nearest foreground row at or above
    down = torch.where(g, rows, inf).flip(0).cummin(0).values.flip(0)  # at or below
    col_row = torch.where((rows - up) <= (down - rows), up, down)
    dy2 = (rows - col_row) ** 2  # inf in columns without foreground
    cols = torch.arange(w, **f64)[None, :].expand(h, w)
    best, best_row, best_col = dy2.clone(), col_row.clone(), cols.clone()
    for k in range(1, min(radius, w - 1) + 1):
        for s in (-k, k):  # candidate column x + s
            dst = slice(k, w) if s < 0 else slice(0, w - k)
            src = slice(0, w - k) if s < 0 else slice(k, w)
            better = dy2[:, src] + k * k < best[:, dst]
            best[:, dst] = torch.where(better, dy2[:, src] + k * k, best[:, dst])
            best_row[:, dst] = torch.where(better, col_row[:, src], best_row[:, dst])
            best_col[:, dst] = torch.where(better, cols[:, src], best_col[:, dst])
    found = torch.isfinite(best)
    return best_row.nan_to_num(0, 0, 0).long(), best_col.long(), found


def _weighted_f(p: Tensor, g: Tensor, beta2: float) -> float:
    if not bool(g.any()):
        return 0.0
    gf = g.to(torch.float64)
    err = (p - gf).abs()
    if bool(g.all()):
        dist, err_t = torch.zeros_like(p), err
    else:
        dist = _distance_to_foreground(g)
        # Background pixels take the error of their nearest foreground pixel. Only pixels within the
        # 7x7 window of some foreground pixel (distance <= 3·sqrt(2) < 4.25) reach EA on the foreground,
        # the only place EA is used, so column offsets up to 4 find the exact nearest pixel there.
        iy, ix, found = _nearest_foreground_index(g, radius=_GAUSS_RADIUS + 1)
        err_t = torch.where(found, err[iy, ix], torch.zeros_like(err))
    k = _gaussian7(p.device)
    err_a = F.conv2d(err_t[None, None], k[None, None], padding=_GAUSS_RADIUS)[0, 0]  # zero padding
    min_e = torch.where(g & (err_a < err), err_a, err)
    importance = torch.where(g, torch.ones_like(dist), 2 - torch.exp(math.log(0.5) / 5 * dist))
    ew = min_e * importance
    tp_w = gf.sum() - ew[g].sum()
    fp_w = ew[~g].sum()
    recall = 1 - ew[g].mean()
    precision = tp_w / (tp_w + fp_w + EPS)
    return float((1 + beta2) * recall * precision / (recall + beta2 * precision + EPS))


def weighted_f(pred: np.ndarray | Tensor, gt: np.ndarray | Tensor, beta2: float = 1.0) -> float:
    """Weighted F-measure F^w_β = (1 + β²)·P^w·R^w / (R^w + β²·P^w) (Margolin et al., CVPR 2014).

    β² = 1 by default (SOD convention). GT without foreground: 0 (as PySODMetrics).
    """
    p, g = _prepare(pred, gt)
    return _weighted_f(p, g, beta2)
