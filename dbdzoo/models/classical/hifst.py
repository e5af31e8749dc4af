"""``hifst``: HiFST blur detection (Golestaneh & Karam, CVPR 2017), batched in torch.

Follows the authors' ``HiFST.m`` (isalirezag/HiFST) step by step so that its maps match the published
ones: 3×3 Gaussian (σ 0.5) on the 8-bit RGB → 8-bit grey → Sobel gradient magnitude → at every pixel the
DCT of the 7, 15, 31 and 63 px patches (zero padded), their high-frequency coefficients (u + v ≥ M − 1)
pooled and sorted → the 117 smallest, each layer min-max normalised over the image → max over layers →
times the 7×7 local entropy → domain-transform recursive filter guided by the grey image. Here the
per-pixel DCTs are one vertical convolution plus an unfold + matmul per row strip, the sort an exact
selection from a packed candidate set (``smallest_sorted``), the entropy per-offset scatter-add
histograms and the recursive filter a loop over columns of the batch.
"""

from __future__ import annotations

import contextlib
import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..registry import register_model
from .base import ClassicalModel, matlab_grey, min_max, round_half_up, to_uint8_levels
from .filters import domain_transform_rf, entropy_7x7, gaussian_kernel, pad_replicate

#: coefficients held at once (fp32, ~8 MB): strips small enough to stay in cache and bound the memory.
STRIP_VALUES = 2**21


def dct_matrix(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Orthonormal DCT-II matrix, MATLAB ``dctmtx(n)``: coefficients are ``D @ patch @ D.T``."""
    k = torch.arange(n, dtype=dtype)[:, None]
    j = torch.arange(n, dtype=dtype)[None]
    d = torch.cos(math.pi * (2 * j + 1) * k / (2 * n)) * math.sqrt(2 / n)
    d[0] = 1 / math.sqrt(n)
    return d


def grey_levels(rgb: torch.Tensor) -> torch.Tensor:
    """8-bit grey B×1×H×W as ``rgb2gray(imgaussfilt(uint8 image, 0.5))`` (both steps round to uint8)."""
    u8 = to_uint8_levels(rgb)
    g = gaussian_kernel(0.5, 3, rgb.device, torch.float64)
    blurred = F.conv2d(pad_replicate(u8.double(), 1).flatten(0, 1)[:, None], g[None, None])
    return matlab_grey(round_half_up(blurred).view_as(u8))


def sobel_magnitude(grey: torch.Tensor) -> torch.Tensor:
    """``imgradient`` (Sobel, replicate padding): sqrt(Gx² + Gy²) of the 0–255 grey image."""
    s = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=grey.dtype, device=grey.device)
    padded = pad_replicate(grey, 1)
    gx = F.conv2d(padded, s[None, None])
    gy = F.conv2d(padded, s.T[None, None])
    return torch.sqrt(gx * gx + gy * gy)


class HiFST(ClassicalModel):
    """HiFST with the authors' settings as arguments (defaults = their code and demo).

    Args:
        patch_sizes: DCT patch sizes (odd; ``Flag=1`` in ``HiFST.m``: 2^k − 1 for k = 3…6).
        num_layers: sorted layers kept; ``None`` = Σ patch sizes + 1 (117), as ``HiFST.m``.
        entropy_window: side of the local-entropy window (``entropyfilt(..., true(7))``).
        rf_sigma_s, rf_sigma_r, rf_iterations: the domain-transform recursive filter (15, 0.25, 3).
        stride: the ``Slid`` argument; only 1 (every pixel, the demo's value) is implemented.
        noise: the ``Noise`` argument (Gaussian noise variance added first); only 0 (the demo's) is
            implemented: any other value makes the map random.
    """

    native_positive = "in_focus"

    def __init__(
        self,
        patch_sizes: tuple[int, ...] | list[int] = (7, 15, 31, 63),
        num_layers: int | None = None,
        entropy_window: int = 7,
        rf_sigma_s: float = 15.0,
        rf_sigma_r: float = 0.25,
        rf_iterations: int = 3,
        stride: int = 1,
        noise: float = 0.0,
    ) -> None:
        super().__init__()
        if stride != 1 or noise != 0:
            raise ValueError("hifst implements stride=1, noise=0 (the authors' demo and published maps)")
        if any(m % 2 == 0 or m < 3 for m in patch_sizes):
            raise ValueError(f"hifst patch_sizes must be odd and ≥ 3, got {list(patch_sizes)}")
        self.patch_sizes = tuple(int(m) for m in patch_sizes)
        self.num_layers = int(num_layers) if num_layers is not None else sum(self.patch_sizes) + 1
        if self.num_layers > sum(m * (m + 1) // 2 for m in self.patch_sizes):
            raise ValueError(f"hifst num_layers={self.num_layers} exceeds the high-frequency coefficients")
        self.entropy_window = entropy_window
        self.rf = (float(rf_sigma_s), float(rf_sigma_r), int(rf_iterations))

    def blur_probability(self, rgb: torch.Tensor) -> torch.Tensor:
        return 1 - self.sharpness(rgb)

    def sharpness(self, rgb: torch.Tensor) -> torch.Tensor:
        """The published map: ``mat2gray(FinalMap)``, B×1×H×W in [0, 1], 1 = in focus."""
        grey = grey_levels(rgb)
        layers = self.sorted_layers(sobel_magnitude(grey).float())  # B×K×H×W
        t = min_max(layers.double()).amax(1, keepdim=True)
        t = min_max(t)
        d = entropy_7x7(round_half_up(t * 255), self.entropy_window) * t
        guide = F.conv2d(
            F.pad(min_max(grey), (1, 1, 1, 1)), gaussian_kernel(1.0, 3, rgb.device, t.dtype)[None, None]
        )
        return min_max(domain_transform_rf(d, guide, *self.rf)).float()

    def sorted_layers(self, grad: torch.Tensor) -> torch.Tensor:
        """The ``num_layers`` smallest high-frequency |DCT| values at every pixel, ascending (B×K×H×W)."""
        b, _, h, w = grad.shape
        width = sum(_band_width(m) for m in self.patch_sizes)
        rows = max(1, STRIP_VALUES // (b * w * width))
        out = grad.new_empty(b, self.num_layers, h, w)
        vert = [self._vertical(grad, m) for m in self.patch_sizes]
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            parts = [
                p
                for v, m in zip(vert, self.patch_sizes, strict=True)
                for p in self._horizontal(v[:, :, r0:r1], m)
            ]
            coeffs = torch.cat(parts, -1).abs_().view(-1, width)
            out[:, :, r0:r1] = (
                smallest_sorted(coeffs, self.num_layers).view(b, r1 - r0, w, -1).permute(0, 3, 1, 2)
            )
        return out

    @staticmethod
    def _vertical(grad: torch.Tensor, m: int) -> torch.Tensor:
        """Vertical DCT of every m-tall zero-padded column window: B×m×H×(W + m − 1), fp32.

        Computed in fp64 (a small share of the work): cuDNN would otherwise run it in TF32 on CUDA.
        """
        d = dct_matrix(m).to(grad.device)
        return F.conv2d(F.pad(grad.double(), (m // 2,) * 4), d.view(m, 1, m, 1)).float()

    @staticmethod
    def _horizontal(vert: torch.Tensor, m: int) -> list[torch.Tensor]:
        """DCT coefficients of a strip's m × m patches in four bands of u, B×R×W×(band values) each.

        A band of u needs only v ≥ m − u1, saving ~40 % of the MACs; the band's few coefficients with
        u + v < m − 1 (not ``FreqBands`` label 0) are set to +inf, which no selection of smallest values
        takes: cheaper than gathering the kept ones out.
        """
        with full_fp32_matmul():
            d = dct_matrix(m).to(vert)
            windows = vert.permute(0, 2, 1, 3).unfold(-1, m, 1).permute(0, 1, 3, 2, 4)  # B×R×W×u×c
            parts = []
            for u0, u1 in _bands(m):
                v0 = m - u1
                block = windows[..., u0:u1, :] @ d[v0:].T  # B×R×W×(u1−u0)×(m−v0)
                parts.append(block.flatten(-2).masked_fill_(_low_band(m, u0, u1, vert.device), math.inf))
        return parts


@contextlib.contextmanager
def full_fp32_matmul():  # noqa: ANN201
    """fp32 matmuls in full precision while inside, whatever the caller chose, then the caller's choice back.

    A script that allows TF32 (``torch.set_float32_matmul_precision("high")``, common in training code)
    would otherwise round HiFST's DCT inputs to 10 mantissa bits on the GPU and move the selected
    coefficients, breaking the match to the authors' maps.
    """
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def _bands(m: int) -> list[tuple[int, int]]:
    step = max(1, -(-m // 4))
    return [(u0, min(m, u0 + step)) for u0 in range(0, m, step)]


@functools.lru_cache(maxsize=64)
def _low_band(m: int, u0: int, u1: int, device: torch.device) -> torch.Tensor:
    """Mask of a band's coefficients with u + v < m − 1 (rows u0…u1−1, columns v = m − u1 … m − 1)."""
    u = torch.arange(u0, u1, device=device)[:, None]
    v = torch.arange(m - u1, m, device=device)[None]
    return (u + v < m - 1).flatten()


def _band_width(m: int) -> int:
    """Values per pixel that ``_horizontal`` returns for patch size m (kept + inf-masked)."""
    return sum((u1 - u0) * u1 for u0, u1 in _bands(m))


def sort_rows(x: torch.Tensor, use_numpy: bool | None = None) -> torch.Tensor:
    """Ascending sort along the last dim; on the CPU through numpy's SIMD sort (~20× torch's there)."""
    if x.device.type == "cpu" if use_numpy is None else use_numpy:
        return torch.from_numpy(np.sort(x.contiguous().numpy(), -1))
    return x.sort(-1).values


def masked_values(x: torch.Tensor, mask: torch.Tensor, use_numpy: bool | None = None) -> torch.Tensor:
    """``x[mask]`` (row-major order); on the CPU through numpy, ~3× torch's ``masked_select`` there."""
    if x.device.type == "cpu" if use_numpy is None else use_numpy:
        return torch.from_numpy(x.contiguous().numpy()[mask.contiguous().numpy()])
    return x.masked_select(mask)


def smallest_sorted(
    x: torch.Tensor, k: int, stride: int = 8, rank: int = 30, use_numpy: bool | None = None
) -> torch.Tensor:
    """``x.topk(k, largest=False).values`` of N×C values (+inf allowed), ~5× faster on the CPU.

    A threshold from a strided sample (its ``rank``-th smallest) keeps ~``rank·stride`` candidates per
    row; those are packed into an N×n_max matrix and only it is sorted. Rows with fewer than k
    values ≤ the threshold (rare) fall back to sorting the whole row, so the result is exact.
    ``use_numpy``: None = numpy on CPU tensors, torch elsewhere (tests force either path).
    """
    sample = x[:, ::stride]
    if sample.shape[-1] < rank or x.shape[-1] <= 4 * k:
        return sort_rows(x, use_numpy)[:, :k]
    tau = sort_rows(sample, use_numpy)[:, rank - 1 : rank]
    # pack the values below tau and pad with tau itself: ties at tau (flat image regions, where every
    # coefficient is 0) then cost nothing, and the k smallest are right wherever ≥ k values are ≤ tau
    below = x < tau
    n_below = below.sum(-1, dtype=torch.int32)  # (a plain bool sum is ~20× slower on the CPU)
    cap = max(k, int(n_below.max()))
    packed = tau.expand(-1, cap).clone()
    packed.masked_scatter_(
        torch.arange(cap, device=x.device) < n_below[:, None], masked_values(x, below, use_numpy)
    )
    out = sort_rows(packed, use_numpy)[:, :k]
    maybe = (n_below < k).nonzero()[:, 0]  # right anyway if ≥ k values are ≤ tau: count those rows
    short = maybe[(x[maybe] <= tau[maybe]).sum(-1, dtype=torch.int32) < k]
    if short.numel():
        out[short] = sort_rows(x[short], use_numpy)[:, :k]
    return out


@register_model
def hifst(**kwargs) -> HiFST:
    """HiFST (CVPR'17), classical, no parameters: the authors' HiFST.m in torch (docs/models/hifst.md)."""
    return HiFST(**kwargs)
