"""A batched model of a baseline JPEG round trip in torch (any device, per-sample quality).

OpenCV's JPEG runs on the CPU, one image at a time; training at GPU speed needs the artefacts (8×8
blocking, ringing, chroma smear) without leaving the device. This follows what libjpeg does with
OpenCV's defaults: 8-bit RGB → YCbCr (JFIF), 4:2:0 chroma (2×2 box average), 8×8 orthonormal DCT of
level-shifted samples, division by the IJG quality-scaled Annex K tables with rounding, then the
inverse, bilinear ("fancy") chroma upsampling and YCbCr → RGB, with the integer rounding of each
stage. It is not bit-exact (libjpeg's fixed-point DCT and rounding biases differ slightly); the
test pins the gap to OpenCV's real codec.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

# ITU-T T.81 Annex K tables K.1 (luminance) and K.2 (chrominance), row-major 8×8
_LUMA = (
    (16, 11, 10, 16, 24, 40, 51, 61), (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56), (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77), (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101), (72, 92, 95, 98, 112, 100, 103, 99),
)  # fmt: skip
_CHROMA = ((17, 18, 24, 47, 99, 99, 99, 99), (18, 21, 26, 66, 99, 99, 99, 99),
           (24, 26, 56, 99, 99, 99, 99, 99), (47, 66, 99, 99, 99, 99, 99, 99)) + ((99,) * 8,) * 4  # fmt: skip


@functools.lru_cache(maxsize=8)
def _dct_matrix(device: torch.device) -> torch.Tensor:
    """8×8 orthonormal DCT-II matrix D (coefficients = D · block · Dᵀ), float64 (float32 on MPS)."""
    k, n = torch.arange(8, dtype=torch.float64).view(8, 1), torch.arange(8, dtype=torch.float64).view(1, 8)
    d = torch.cos((2 * n + 1) * k * math.pi / 16) * 0.5
    d[0] /= math.sqrt(2.0)
    return d.to(device=device, dtype=torch.float32 if device.type == "mps" else torch.float64)


@functools.lru_cache(maxsize=8)
def _base_tables(device: torch.device) -> torch.Tensor:
    return torch.tensor((_LUMA, _CHROMA), dtype=torch.float32).to(device)


def quant_tables(quality: torch.Tensor) -> torch.Tensor:
    """IJG quality scaling (``jpeg_quality_scaling``, baseline clamp 1–255) → B×2×8×8 (luma, chroma)."""
    q = quality.to(torch.float32).clamp(1, 100).view(-1, 1, 1, 1)
    scale = torch.where(q < 50, torch.floor(5000.0 / q), 200.0 - 2.0 * q)
    base = _base_tables(quality.device)
    return torch.floor((base * scale + 50.0) / 100.0).clamp(1.0, 255.0)


def _code(plane: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Quantise and reconstruct the 8×8 blocks of integer samples B×C×H×W (H, W multiples of 8)."""
    b, c, h, w = plane.shape
    wide = torch.float32 if plane.device.type == "mps" else torch.float64  # TF32 matmuls would round
    d = _dct_matrix(plane.device).to(wide)  # coefficients off by ~1 and flip quantisation decisions
    blocks = (plane.to(wide) - 128.0).view(b, c, h // 8, 8, w // 8, 8).transpose(3, 4)
    q = table.to(wide).view(b, 1, 1, 1, 8, 8)
    coef = torch.round(d @ blocks @ d.T / q) * q
    out = (d.T @ coef @ d).transpose(3, 4).reshape(b, c, h, w)
    return torch.round(out + 128.0).clamp(0.0, 255.0).float()


def _downsample(c: torch.Tensor) -> torch.Tensor:
    """libjpeg ``h2v2_downsample``: 2×2 sums plus a bias alternating 1, 2 along the row, ÷ 4 truncated."""
    bias = 1.5 - 0.5 * torch.cos(torch.arange(c.shape[-1] // 2, device=c.device) * math.pi)  # 1, 2, 1, …
    return torch.floor((F.avg_pool2d(c, 2) * 4.0 + bias) / 4.0)


def _upsample(c: torch.Tensor) -> torch.Tensor:
    """libjpeg ``h2v2_fancy_upsample``: triangle (bilinear) filter, 3:1 weights, its rounding biases."""
    h, w = c.shape[-2:]
    up, down = c[..., [0, *range(h - 1)], :], c[..., [*range(1, h), h - 1], :]
    rows = torch.stack([3.0 * c + up, 3.0 * c + down], dim=-2).flatten(-3, -2)  # column sums, 2H rows
    left, right = rows[..., [0, *range(w - 1)]], rows[..., [*range(1, w), w - 1]]
    cols = torch.stack([3.0 * rows + left + 8.0, 3.0 * rows + right + 7.0], dim=-1).flatten(-2)
    return torch.floor(cols / 16.0)


def jpeg_dct(image: torch.Tensor, quality: torch.Tensor | int) -> torch.Tensor:
    """JPEG-compress and decompress a batch B×3×H×W in [0, 1] at per-sample ``quality`` (int or B values).

    Returns the decoded images in [0, 1] (multiples of 1/255), same shape and device.
    """
    b, _, h, w = image.shape
    quality = torch.as_tensor(quality, device=image.device).expand(b)
    tables = quant_tables(quality)
    x = torch.floor(image.float() * 255.0 + 0.5).clamp(0.0, 255.0)  # the uint8 the codec is given
    ph, pw = -h % 16, -w % 16  # libjpeg replicates edges to whole 16×16 MCUs
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    r, g, bl = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = torch.round(0.299 * r + 0.587 * g + 0.114 * bl)
    cb = -0.168735892 * r - 0.331264108 * g + 0.5 * bl + 128.0
    cr = 0.5 * r - 0.418687589 * g - 0.081312411 * bl + 128.0
    chroma = _downsample(torch.floor(torch.cat([cb, cr], 1) + 0.5))
    y = _code(y, tables[:, 0])
    chroma = _upsample(_code(chroma, tables[:, 1]))
    cb, cr = chroma[:, 0:1] - 128.0, chroma[:, 1:2] - 128.0
    rgb = torch.cat([y + 1.402 * cr, y - 0.344136286 * cb - 0.714136286 * cr, y + 1.772 * cb], 1)
    rgb = torch.round(rgb).clamp(0.0, 255.0)[..., :h, :w] / 255.0
    return rgb.to(image.dtype)
