"""Vectorised building blocks of the DBD evaluator: resize, polarity, binarisation, confusion counts.

Confusion counts over ``n`` thresholds cost O(pixels * log n + n) per image: every pixel is bucketed
once against the sorted thresholds (``torch.bucketize``), one ``bincount`` per batch builds a
histogram per (image, GT class), and a reverse cumulative sum turns it into "pixels at or above
threshold j". Everything stays on the input device; counts are float64 so sums over a whole dataset
are exact.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from dbdzoo.metrics.presets import Preset, Threshold

BETA2 = 0.3
# np.uint8(p * 255) truncates; a map already stored as k/255 in float32 can land a hair below k, so
# a tiny offset keeps such maps exactly on k (shifts true boundaries by 1e-4/255 at most).
_UINT8_OFFSET = 1e-4


def resize_maps(x: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Resize B x 1 x h x w maps to ``size`` the way the original scripts' libraries did.

    Bicubic always uses the antialiased kernel (a = -0.5, as PIL and MATLAB ``imresize``); bilinear
    antialiases only when shrinking (as PIL/MATLAB; identical to plain bilinear when enlarging).
    Interpolation overshoot is clamped back to [0, 1].
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    shrink = x.shape[-2] > size[0] or x.shape[-1] > size[1]
    antialias = mode == "bicubic" or shrink
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=antialias).clamp_(0, 1)


def prepare(pred: Tensor, gt: Tensor, preset: Preset) -> tuple[Tensor, Tensor]:
    """Resize, flip polarity and normalise; returns flattened (B, N) prediction and soft GT in [0, 1]."""
    size = tuple(gt.shape[-2:]) if preset.eval_size == "native" else (preset.eval_size, preset.eval_size)
    pred = resize_maps(pred, size, preset.resize)
    gt = resize_maps(gt, size, preset.gt_resize)
    pred, gt = pred.flatten(1), gt.flatten(1)
    if preset.positive == "in_focus":
        pred, gt = 1 - pred, 1 - gt
    if preset.pred_norm == "max":
        peak = pred.amax(1, keepdim=True)
        pred = torch.where(peak > 0, pred / peak.clamp_min(1e-30), torch.zeros_like(pred))
    elif preset.pred_norm == "minmax":
        lo, hi = pred.amin(1, keepdim=True), pred.amax(1, keepdim=True)
        pred = torch.where(hi > lo, (pred - lo) / (hi - lo).clamp_min(1e-30), pred)
    return pred, gt


def quantise(x: Tensor, preset: Preset) -> Tensor:
    """Map values in the preset's units: unchanged for ``float``, ``floor(255 x)`` for ``uint8``."""
    if preset.pred_scale == "uint8":
        return torch.floor(x * 255 + _UINT8_OFFSET).clamp_(0, 255)
    return x


def adaptive_threshold(v: Tensor, threshold: Threshold, unit: float) -> Tensor:
    """Per-image ``min(k * mean, cap)`` in float64 (as numpy computes it), shape (B, 1)."""
    mean = v.double().mean(1, keepdim=True)
    return torch.clamp(threshold.k * mean, max=threshold.cap * unit)


#: a prediction whose values span less than this (in map units) is constant up to resize rounding
CONSTANT_SPREAD = 1e-6


def prediction_threshold(v: Tensor, threshold: Threshold, unit: float, compare: str) -> Tensor:
    """The adaptive threshold of a predicted map, defined for maps that are constant up to rounding.

    ``k * mean`` ranks pixels against the map's own average; a constant map has no ranking, and its
    threshold then fell on resize rounding (an all-blur map resized to 320² gave 1.9e-8, scoring
    arbitrary pixels as in focus). Such a map is decided as a whole, as the authors' code decides an
    exactly constant one: all pixels positive when its value passes ``min(k * value, cap)``, else none.
    """
    thr = adaptive_threshold(v, threshold, unit)
    spread = (v.amax(1, keepdim=True) - v.amin(1, keepdim=True)).double()
    step = CONSTANT_SPREAD * unit  # the constant without its rounding noise: 1e-9 -> 0, 0.5 - 1e-9 -> 0.5
    value = torch.round(v.double().mean(1, keepdim=True) / step) * step
    whole = above(value, torch.clamp(threshold.k * value, max=threshold.cap * unit), compare)
    below_all = v.amin(1, keepdim=True).double() - step  # every pixel passes it (ge and gt)
    above_all = v.amax(1, keepdim=True).double() + step  # no pixel passes it
    decided = torch.where(whole, below_all, above_all)
    return torch.where(spread <= CONSTANT_SPREAD * unit, decided, thr)


def above(v: Tensor, thr: Tensor | float, compare: str) -> Tensor:
    """Boolean map of ``v >= thr`` or ``v > thr``."""
    return v >= thr if compare == "ge" else v > thr


def binarize_gt(gt: Tensor, preset: Preset) -> Tensor:
    """Binary GT of the scored class following ``preset.gt_binarize`` (bool, (B, N))."""
    if preset.gt_binarize == "adaptive":
        q = quantise(gt, preset)
        return above(q, adaptive_threshold(q, preset.threshold, preset.unit), preset.compare)
    op, value = preset.gt_binarize
    return gt > value if op == "gt" else gt >= value


def sweep_values(threshold: Threshold, unit: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Sorted sweep thresholds in map units, computed in the map dtype so k/255 matches exactly."""
    i = torch.arange(threshold.start, threshold.start + threshold.n, device=device, dtype=dtype)
    if unit == 255.0 and threshold.denom == 255:
        return i
    return i * unit / threshold.denom


def bucket_index(v: Tensor, threshold: Threshold, unit: float, compare: str) -> Tensor:
    """Per pixel, how many sweep thresholds it passes: #(thr <= v) for ``ge``, #(thr < v) for ``gt``.

    A pixel is then positive at threshold j exactly when its index is >= j + 1. The sweep is uniform,
    so the index is ``floor(v * denom / unit)`` up to one step of rounding, fixed by comparing with
    the neighbouring thresholds computed by the very float operations of :func:`sweep_values`: exact
    like ``torch.bucketize`` without its per-pixel binary search. Returned as float (small integers).
    """
    n, start, denom = threshold.n, threshold.start, threshold.denom
    if unit == 255.0 and denom == 255:  # integer map against integer thresholds
        return (v + (1 - start if compare == "ge" else -start)).clamp_(0, n)
    j = (v * (denom / unit)).int().to(v.dtype)  # floor for v >= 0 (truncation is much cheaper)
    scale = (lambda x: x / denom) if unit == 1.0 else (lambda x: x * unit / denom)
    if compare == "ge":  # largest integer J with thr(J) <= v
        j += scale(j + 1) <= v
        j -= (scale(j) > v).to(j.dtype)
    else:  # largest integer J with thr(J) < v
        j += scale(j + 1) < v
        j -= (scale(j) >= v).to(j.dtype)
    return j.sub_(start - 1).clamp_(0, n)


def sweep_counts(idx: Tensor, gt: Tensor, n: int) -> tuple[Tensor, Tensor]:
    """TP and FP at each of ``n`` thresholds per image from :func:`bucket_index`, both (B, n) float64.

    One ``bincount`` over (image, GT class, bucket) keys and a reverse cumulative sum; the key is
    assembled in the index's float dtype (exact below 2**24) to avoid int64 passes.
    """
    b = idx.shape[0]
    offset = torch.arange(b, device=idx.device, dtype=idx.dtype).unsqueeze(1) * (2 * (n + 1))
    key = idx + offset
    key += gt * float(n + 1)
    hist = torch.bincount(key.int().flatten(), minlength=b * 2 * (n + 1)).view(b, 2, n + 1).double()
    at_or_above = hist.flip(-1).cumsum(-1).flip(-1)[..., 1:]
    return at_or_above[:, 1], at_or_above[:, 0]


def single_counts(v: Tensor, gt: Tensor, thr: Tensor, compare: str) -> tuple[Tensor, Tensor]:
    """TP and FP at one threshold per image (``thr`` is (B, 1)), both (B, 1) float64."""
    pos = above(v, thr, compare)
    tp = torch.count_nonzero(pos & gt, dim=1).double().unsqueeze(1)
    return tp, torch.count_nonzero(pos, dim=1).double().unsqueeze(1) - tp


def _safe_div(a: Tensor, b: Tensor) -> Tensor:
    """a / b with 0/0 (and x/0) := 0, the convention of sklearn's zero_division and the MATLAB code."""
    return torch.where(b > 0, a / b.clamp_min(1e-300), torch.zeros_like(a))


def f_beta(p: Tensor, r: Tensor) -> Tensor:
    """F_beta with beta^2 = 0.3; 0 where P = R = 0."""
    return _safe_div((1 + BETA2) * p * r, BETA2 * p + r)


class Ratios(NamedTuple):
    """Precision, recall, F_beta, IoU and false-positive rate (tensors of the counts' shape)."""

    p: Tensor
    r: Tensor
    f: Tensor
    iou: Tensor
    fpr: Tensor


def ratios(tp: Tensor, fp: Tensor, npos: Tensor, nneg: Tensor, eps: float = 0.0) -> Ratios:
    """P, R, F, IoU and FPR from counts (any broadcastable shapes).

    ``eps > 0`` reproduces R3Net/BR2Net smoothing: P = (TP+eps)/(TP+FP+eps), R = (TP+eps)/(pos+eps).
    """
    fn = npos - tp
    if eps > 0:
        p, r = (tp + eps) / (tp + fp + eps), (tp + eps) / (npos + eps)
    else:
        p, r = _safe_div(tp, tp + fp), _safe_div(tp, npos)
    return Ratios(p=p, r=r, f=f_beta(p, r), iou=_safe_div(tp, tp + fp + fn), fpr=_safe_div(fp, nneg))


def trapezoid(y: Tensor, x: Tensor) -> float:
    """Unsigned trapezoid area of y over x, points taken in the given order."""
    if x.numel() < 2:
        return 0.0
    return float(((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2).sum().abs())
