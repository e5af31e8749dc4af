"""LBP sharpness (Yi & Eramian, TIP 2016): the LBP(8,1) riu2 codes and the share of sharp codes per window.

``lbp_sharpness`` reproduces the authors' ``lbpSharpness.py`` (xinario/defocus_segmentation) bit for bit,
including its integral-image window of (s − 1)² pixels divided by s²; ``lbp_sharpness_matlab`` follows
``lbpSharpness.m``, the code ``demo.m`` runs; ``lbpSharpness.cpp`` (the mex code behind the paper's
results) is ``mex_grey``, the MATLAB codes and ``window_share(..., "cpp")``. All are ``sharp_codes`` then
``window_share``: the codes do not depend on the window, so the pipeline computes them once for its
three sizes. The matting that follows is ``matting.py``.
"""

from __future__ import annotations

import math

import torch

from .base import min_max
from .filters import box_sum, pad_replicate

#: OpenCV's fixed-point BGR2GRAY weights for 8-bit images (R, G, B): OpenCV 5 shifts by 16 bits (what the
#: authors' Python ran under in the oracle); OpenCV ≤ 4 (the authors' mex era) by 14 bits, one grey level
#: apart on a few pixels in a thousand.
CV_GREY = (19595, 38470, 7471)
CV_GREY_14BIT = (4899, 9617, 1868)


def cv_grey(levels: torch.Tensor, legacy: bool = False) -> torch.Tensor:
    """``cv2.cvtColor(BGR2GRAY)`` of 8-bit RGB levels (B×3×H×W floats 0–255) → B×1×H×W levels.

    ``legacy``: OpenCV ≤ 4's 14-bit weights instead of OpenCV 5's 16-bit ones.
    """
    bits, weights = (14, CV_GREY_14BIT) if legacy else (16, CV_GREY)
    w = torch.tensor(weights, dtype=torch.float64, device=levels.device).view(1, 3, 1, 1)
    return torch.floor(((levels.double() * w).sum(1, keepdim=True) + 2 ** (bits - 1)) / 2**bits)


def mex_grey(levels: torch.Tensor) -> torch.Tensor:
    """The grey ``lbpSharpness.cpp`` sees: ``cvtColor(BGR2GRAY)`` (OpenCV 3, 14 bits) of MATLAB's RGB array.

    mexopencv hands a MATLAB image to OpenCV in MATLAB's channel order (RGB), so the BGR weights land
    on the swapped channels: R gets blue's weight and B red's.
    """
    return cv_grey(levels.flip(1), legacy=True)


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


def sharp_codes(grey: torch.Tensor, threshold: float, matlab: bool = False) -> torch.Tensor:
    """1 where the LBP code is 6–9 (the sharp patterns), 0 elsewhere: what every window size shares."""
    return (lbp_riu2(grey, threshold, matlab) >= 6).double()


def window_share(sharp: torch.Tensor, size: int, code: str = "python") -> torch.Tensor:
    """The share of sharp codes per window (replicate-padded): ``lbpSharpness``'s last step, per code.

    ``"matlab"`` (``lbpSharpness.m``): the full s × s window, min-max normalised. ``"python"``
    (``lbpSharpness.py``): an (s − 1) × (s − 1) window divided by s² (the authors' off-by-one, kept), not
    normalised. ``"cpp"`` (``lbpSharpness.cpp``): the Python window, then ``normalize(NORM_MINMAX)``
    to 8 bits (rounded half to even, as ``cvRound``) and read back as ``im2double``.
    """
    h, w = sharp.shape[-2:]
    r = (size - 1) // 2
    if code == "matlab":
        return min_max(box_sum(pad_replicate(sharp, r), size) / size**2)  # constant → 0
    share = box_sum(pad_replicate(sharp, r), size - 1)[..., :h, :w] / size**2
    if code == "python":
        return share
    lo, hi = share.amin((-2, -1), keepdim=True), share.amax((-2, -1), keepdim=True)
    # cv::normalize: scale = 255·(1/(max − min)) (0 for a constant map), shift = −min·scale, in this order
    scale = torch.where(hi > lo, 255 * torch.reciprocal(hi - lo), torch.zeros_like(hi))
    return torch.round(share * scale + (0 - lo * scale)) / 255


def lbp_sharpness(grey: torch.Tensor, size: int, threshold: float) -> torch.Tensor:
    """The authors' ``lbpSharpness(im_gray, s, threshold)`` (Python): share of codes 6–9 per window."""
    return window_share(sharp_codes(grey, threshold), size)


def lbp_sharpness_matlab(grey: torch.Tensor, size: int, threshold: float) -> torch.Tensor:
    """The authors' ``lbpSharpness.m`` (what ``demo.m`` runs): the full s × s window, min-max normalised.

    ``grey`` holds MATLAB ``rgb2gray`` levels (``matlab_grey``).
    """
    return window_share(sharp_codes(grey, threshold, matlab=True), size, "matlab")
