"""``lbp``: LBP-based defocus segmentation (Yi & Eramian, TIP 2016), batched in torch.

The authors' ``demo.m`` pipeline: at three window sizes the LBP sharpness map (``lbp_parts``), a double
threshold of it (> 0.3 sharp, < 0.01 blurred) as matting constraints, closed-form matting at 1/4
resolution upsampled by the image, then the three alpha maps standardised together and fused by loopy
belief propagation on a three-layer grid (``multiScaleBlurInferenceFull``); the map is the sharp-state
belief of the largest-window layer.
"""

from __future__ import annotations

import math

import torch

from ..registry import register_model
from .base import ClassicalModel, matlab_grey, min_max, to_uint8_levels
from .lbp_parts import cv_grey, lbp_sharpness, lbp_sharpness_matlab, matte


def _shift(x: torch.Tensor, dim: int, step: int) -> torch.Tensor:
    """Move ``x`` by ``step`` along ``dim``; the vacated edge gets 0 (a uniform message in log-odds)."""
    out = torch.zeros_like(x)
    n = x.shape[dim]
    out.narrow(dim, 1 if step > 0 else 0, n - 1).copy_(x.narrow(dim, 0 if step > 0 else 1, n - 1))
    return out


def loopy_bp(pot: torch.Tensor, alpha: float, max_iter: int = 100, tol: float = 1e-4) -> torch.Tensor:
    """Sum-product loopy BP with parallel updates on a 4-connected grid per layer + links between layers.

    Binary states with a Potts edge potential: a message is the log-odds μ = 2·atanh(c·tanh(x/2)),
    c = tanh(alpha/2), x = node log-odds + all incoming but the receiver's. It is kept as t = tanh(μ/2):
    then e^x = e^h·Π(1 + t)/(1 − t), so with P = e^h·Π(1 + t_k) and Q = Π(1 − t_k) over the six
    incoming messages, leaving one message o out gives tanh(x/2) = (P(1−o) − Q(1+o)) / (P(1−o) + Q(1+o)):
    rational operations only. P and Q stay in range (|h| ≤ 1 for these potentials, |t| < c < 1). The
    normalised message's first entry is (1 + t) / 2, so UGM's convergence test is Σ|Δt|.

    Args:
        pot: node potentials B×L×2×H×W (layer, state).
        alpha: Potts weight: edge potential exp(−alpha) between different states, 1 for equal ones.

    Returns:
        Belief of state 0 per node, B×L×H×W. Stops when the summed change of the normalised messages
        is below ``tol`` (UGM's rule) or after ``max_iter`` parallel sweeps.
    """
    c = math.tanh(alpha / 2)
    eh = pot[:, :, 0] / pot[:, :, 1]
    # incoming messages by the neighbour they come from: left, right, up, down, previous layer, next layer
    dims = {"l": (3, 1), "r": (3, -1), "u": (2, 1), "d": (2, -1), "p": (1, 1), "n": (1, -1)}
    opposite = {"l": "r", "r": "l", "u": "d", "d": "u", "p": "n", "n": "p"}
    t = {k: torch.zeros_like(eh) for k in dims}

    def pq() -> tuple[torch.Tensor, torch.Tensor]:
        p, q = eh.clone(), torch.ones_like(eh)
        for v in t.values():
            p.mul_(1 + v)
            q.mul_(1 - v)
        return p, q

    for _ in range(max_iter):
        p, q = pq()
        d, s = p - q, p + q  # (P(1−o) − Q(1+o)) / (P(1−o) + Q(1+o)) = (d − o·s) / (s − o·d)
        new = {}
        for k, (dim, step) in dims.items():
            o = t[opposite[k]]  # the message our receiver sent us: left out of what we send it
            msg = torch.addcmul(d, o, s, value=-1).div_(torch.addcmul(s, o, d, value=-1)).mul_(c)
            new[k] = _shift(msg, dim, step)
        change = sum(float((new[k] - t[k]).abs().sum()) for k in t)
        t = new
        if change < tol:
            break
    p, q = pq()
    return p / (p + q)


class LBP(ClassicalModel):
    """LBP defocus segmentation with the authors' demo settings as arguments.

    Args:
        scales: window sizes s1, s2, s3 (11, 15, 21).
        threshold: T_LBP, the LBP sign threshold (0.016) on grey in [0, 1] (``code='python'``: min-max
            normalised grey; ``code='matlab'``: 8-bit levels, compared as ``threshold · 255``).
        sharp_threshold, blur_threshold: T_m1, T_m2 of the matting constraints (0.3, 0.01).
        matting_levels: coarse-to-fine levels; the solve runs at the coarsest (3 → 1/4 resolution).
        matting_iterations: conjugate-gradient iterations of that solve.
        fusion_alpha: weight of the multiscale Potts term (0.5).
        bp_iterations: maximum loopy-BP iterations (UGM's default 100; stops at change < 1e-4).
        code: which of the authors' sharpness codes feeds the matting: ``"matlab"`` (``lbpSharpness.m``,
            what ``demo.m`` runs: 8-bit grey, floored neighbours, full s × s window) or ``"python"``
            (``lbpSharpness.py``: min-max grey, (s − 1)² window).
    """

    native_positive = "in_focus"

    def __init__(
        self,
        scales: tuple[int, ...] | list[int] = (11, 15, 21),
        threshold: float = 0.016,
        sharp_threshold: float = 0.3,
        blur_threshold: float = 0.01,
        matting_levels: int = 3,
        matting_iterations: int = 200,
        fusion_alpha: float = 0.5,
        bp_iterations: int = 100,
        code: str = "matlab",
    ) -> None:
        super().__init__()
        if code not in ("matlab", "python"):
            raise ValueError(
                f"lbp code must be 'matlab' or 'python' (the authors' two sharpness codes), got {code!r}"
            )
        self.code = code
        if len(scales) != 3 or any(s < 3 or s % 2 == 0 for s in scales):
            raise ValueError(f"lbp scales must be three odd window sizes ≥ 3, got {list(scales)}")
        self.scales = tuple(int(s) for s in scales)
        self.threshold = threshold
        self.sharp_threshold, self.blur_threshold = sharp_threshold, blur_threshold
        self.matting_levels, self.matting_iterations = matting_levels, matting_iterations
        self.fusion_alpha, self.bp_iterations = fusion_alpha, bp_iterations

    def sharpness_maps(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """The LBP sharpness map per scale (B×1×H×W each), as the authors' ``lbpSharpness`` (``code``)."""
        levels = to_uint8_levels(rgb)
        if self.code == "matlab":
            return [lbp_sharpness_matlab(matlab_grey(levels), s, self.threshold) for s in self.scales]
        return [lbp_sharpness(cv_grey(levels), s, self.threshold) for s in self.scales]

    def alpha_maps(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """Per scale the matted sharpness (``localSharpScoreLBP``): constraints from the double threshold.

        The three scales' solves run as one batch (scale-major), so each CG step is one set of ops.
        """
        img = to_uint8_levels(rgb).double() / 255
        norm = torch.cat([min_max(m) for m in self.sharpness_maps(rgb)])  # (3·B)×1×H×W
        obj, bkg = norm > self.sharp_threshold, norm < self.blur_threshold
        imgs = img.repeat(len(self.scales), 1, 1, 1)
        target = torch.where(obj, 1.0, 0.0).to(img)
        moved = (target - imgs).abs().sum(1, keepdim=True) > 0.001
        known = ((obj | bkg) & moved).to(img)
        alpha = matte(imgs, known, target * known, self.matting_iterations, self.matting_levels)
        return list(alpha.chunk(len(self.scales)))

    def blur_probability(self, rgb: torch.Tensor) -> torch.Tensor:
        return 1 - self.in_focus(rgb).to(rgb.dtype)

    def in_focus(self, rgb: torch.Tensor) -> torch.Tensor:
        """The authors' final map (1 = sharp): fused belief of the largest window's layer."""
        a1, a2, a3 = self.alpha_maps(rgb)
        x = torch.stack([a3, a2, a1], 1)[:, :, 0]  # B×3×H×W, layer order of the authors' graph
        flat = x.flatten(1)
        x = (x - flat.mean(1).view(-1, 1, 1, 1)) / flat.std(1).clamp_min(1e-12).view(-1, 1, 1, 1)
        pot = torch.stack([torch.exp(-(1 - x).abs()), torch.exp(-x.abs())], 2).float()
        return loopy_bp(pot, self.fusion_alpha, self.bp_iterations)[:, 0:1]


@register_model
def lbp(**kwargs) -> LBP:
    """LBP defocus segmentation (TIP'16), classical, no parameters: the authors' pipeline (docs/models/lbp.md)."""
    return LBP(**kwargs)
