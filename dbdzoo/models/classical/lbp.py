"""``lbp``: LBP-based defocus segmentation (Yi & Eramian, TIP 2016), batched in torch.

The authors' ``demo.m`` pipeline: at three window sizes the LBP sharpness map (``lbp_parts``), a double
threshold of it (> 0.3 sharp, < 0.01 blurred) as matting constraints, closed-form matting at 1/4
resolution upsampled by the image (``matting``), then the three alpha maps standardised together and
fused by loopy belief propagation on a three-layer grid (``multiScaleBlurInferenceFull``, ``belief``); the map is the
sharp-state belief of the largest-window layer.
"""

from __future__ import annotations

import torch

from ..registry import register_model
from .base import ClassicalModel, matlab_grey, min_max, to_uint8_levels
from .belief import FP32_SETTLE, loopy_bp
from .lbp_parts import cv_grey, mex_grey, sharp_codes, window_share
from .matting import CG_TOLERANCE, SOLVERS, matte

#: below this standard deviation the three α maps count as constant (rounding noise of the solve is ~1e-12)
CONSTANT_STD = 1e-6


class LBP(ClassicalModel):
    """LBP defocus segmentation with the authors' demo settings as arguments.

    Args:
        scales: window sizes s1, s2, s3 (11, 15, 21).
        threshold: T_LBP, the LBP sign threshold (0.016) on grey in [0, 1] (``code='python'``: min-max
            normalised grey; ``code='matlab'``: 8-bit levels, compared as ``threshold · 255``).
        sharp_threshold, blur_threshold: T_m1, T_m2 of the matting constraints (0.3, 0.01).
        matting_levels: coarse-to-fine levels; the solve runs at the coarsest (3 → 1/4 resolution).
        matting_solver: ``"direct"`` (a sparse LU: the exact solution, as the authors' backslash),
            ``"cg"`` (conjugate gradients in torch, batched on the input's device) or ``"auto"``
            (direct on the CPU, where it is also faster; CG on a GPU).
        matting_iterations, matting_tolerance: the CG solver's stop (``matting_solver="cg"``): at most
            that many steps, at the solve level and again for its warm start one level down, ending
            once the preconditioned residual has fallen by ``matting_tolerance`` (1e-20: α within
            ~1e-7 of the direct solve).
        fusion_alpha: weight of the multiscale Potts term (0.5).
        bp_iterations: maximum loopy-BP iterations (UGM's default 100; stops at change < 1e-4).
        bp_precision: ``"fp32"`` (default, fastest) or ``"fp64"`` (UGM's precision: with
            ``bp_settle="auto"`` it stops where UGM does; ~1.5× the time).
        bp_settle: also stop once no message's odds move by more than this in a sweep. ``"auto"``:
            2^-22 in fp32, where UGM's summed-change rule cannot fire (fp32 rounding noise keeps the
            sum above 1e-4) and the iteration has converged as far as fp32 holds it (beliefs within
            ~2.5e-6 of UGM's fp64 run, stopping within a few sweeps of it); 0 in fp64 (UGM's rule
            alone). A number sets it for either precision; 0 in fp32 runs all ``bp_iterations``.
        code: which of the authors' sharpness codes feeds the matting: ``"matlab"`` (``lbpSharpness.m``,
            what ``demo.m`` runs: 8-bit grey, floored neighbours, full s × s window), ``"python"``
            (``lbpSharpness.py``: min-max grey, (s − 1)² window) or ``"cpp"`` (``lbpSharpness.cpp``, the
            mex code the README says produced the paper's results: OpenCV 3 grey of the RGB array read
            as BGR, floored neighbours, (s − 1)² window, min-max to 8 bits).
    """

    native_positive = "in_focus"

    def __init__(
        self,
        scales: tuple[int, ...] | list[int] = (11, 15, 21),
        threshold: float = 0.016,
        sharp_threshold: float = 0.3,
        blur_threshold: float = 0.01,
        matting_levels: int = 3,
        matting_solver: str = "auto",
        matting_iterations: int = 2000,
        matting_tolerance: float = CG_TOLERANCE,
        fusion_alpha: float = 0.5,
        bp_iterations: int = 100,
        bp_precision: str = "fp32",
        bp_settle: float | str = "auto",
        code: str = "matlab",
    ) -> None:
        super().__init__()
        if code not in ("matlab", "python", "cpp"):
            raise ValueError(
                "lbp code must be 'matlab', 'python' or 'cpp' (the authors' three sharpness codes), "
                f"got {code!r}"
            )
        self.code = code
        if matting_solver not in ("auto", *SOLVERS):
            raise ValueError(f"lbp matting_solver must be 'auto', 'direct' or 'cg', got {matting_solver!r}")
        self.matting_solver = matting_solver
        if len(scales) != 3 or any(s < 3 or s % 2 == 0 for s in scales):
            raise ValueError(f"lbp scales must be three odd window sizes ≥ 3, got {list(scales)}")
        self.scales = tuple(int(s) for s in scales)
        self.threshold = threshold
        self.sharp_threshold, self.blur_threshold = sharp_threshold, blur_threshold
        self.matting_levels, self.matting_iterations = matting_levels, matting_iterations
        self.matting_tolerance = matting_tolerance
        self.fusion_alpha, self.bp_iterations = fusion_alpha, bp_iterations
        if bp_precision not in ("fp32", "fp64"):
            raise ValueError(f"lbp bp_precision must be 'fp32' or 'fp64', got {bp_precision!r}")
        self.bp_precision = bp_precision
        number = isinstance(bp_settle, (int, float)) and not isinstance(bp_settle, bool)
        if bp_settle != "auto" and not (number and bp_settle >= 0):
            raise ValueError(f"lbp bp_settle must be 'auto' or a number ≥ 0, got {bp_settle!r}")
        self.bp_settle = bp_settle

    def sharpness_maps(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """The LBP sharpness map per scale (B×1×H×W each), as the authors' ``lbpSharpness`` (``code``)."""
        levels = to_uint8_levels(rgb)
        grey = {"matlab": matlab_grey, "python": cv_grey, "cpp": mex_grey}[self.code](levels)
        # the C++ code compares 8-bit levels as lbpCode.m does (diff > ⌊T·255⌋ ⇔ diff > T·255 for integers)
        sharp = sharp_codes(grey, self.threshold, matlab=self.code != "python")  # the same for every window
        return [window_share(sharp, s, self.code) for s in self.scales]

    def alpha_maps(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """Per scale the matted sharpness (``localSharpScoreLBP``): constraints from the double threshold.

        The three scales are three constraint maps on one image (B×3): the image's matting terms are
        computed once, and the CG solver runs them as one batch.
        """
        img = to_uint8_levels(rgb).double() / 255
        norm = torch.cat([min_max(m) for m in self.sharpness_maps(rgb)], 1)  # B×3 (scales)
        obj, bkg = norm > self.sharp_threshold, norm < self.blur_threshold
        target = torch.where(obj, 1.0, 0.0).to(img)
        # Σ_c |target − I_c| > 0.001, with target 0 or 1 and I in [0, 1]: a sum of the levels or of 1 − them
        moved = torch.where(obj, (1 - img).sum(1, keepdim=True), img.sum(1, keepdim=True)) > 0.001
        known = ((obj | bkg) & moved).to(img)
        solver = self.matting_solver
        if solver == "auto":
            solver = "direct" if rgb.device.type == "cpu" else "cg"
        alpha = matte(
            img,
            known,
            target * known,
            self.matting_levels,
            solver,
            self.matting_iterations,
            self.matting_tolerance,
        )
        return list(alpha.clamp(0, 1).split(1, 1))  # the guided upsampling overshoots

    def blur_probability(self, rgb: torch.Tensor) -> torch.Tensor:
        return 1 - self.in_focus(rgb).to(rgb.dtype)

    def in_focus(self, rgb: torch.Tensor) -> torch.Tensor:
        """The authors' final map (1 = sharp): fused belief of the largest window's layer."""
        a1, a2, a3 = self.alpha_maps(rgb)
        x = torch.stack([a3, a2, a1], 1)[:, :, 0]  # B×3×H×W, layer order of the authors' graph
        flat = x.flatten(1)
        std = flat.std(1).view(-1, 1, 1, 1)
        # a constraint set that is all sharp (or all blurred) has a constant exact matting, up to rounding
        # (std ~1e-12): MATLAB's standardisation divides 0 by 0 there; dbdzoo keeps α itself
        standardised = (x - flat.mean(1).view(-1, 1, 1, 1)) / std.clamp_min(CONSTANT_STD)
        x = torch.where(std < CONSTANT_STD, x, standardised)
        # node potentials exp(−|1 − x|), exp(−|x|), passed as their ratio: formed from the exponents, it
        # stays in [1/e, e] where the potentials themselves underflow (|x| > 87 in fp32: a map that is
        # nearly constant, standardised)
        odds = torch.exp(x.abs() - (1 - x).abs())  # fp64
        fp32 = self.bp_precision == "fp32"
        settle = (FP32_SETTLE if fp32 else 0.0) if self.bp_settle == "auto" else float(self.bp_settle)
        beliefs = loopy_bp(
            odds.float() if fp32 else odds, self.fusion_alpha, self.bp_iterations, settle=settle
        )
        return beliefs.state0[:, 0:1].to(rgb.dtype)


@register_model
def lbp(**kwargs) -> LBP:
    """LBP defocus segmentation (TIP'16), classical, no parameters: the authors' pipeline (docs/models/lbp.md)."""
    return LBP(**kwargs)
