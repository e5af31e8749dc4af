"""A small camera pipeline for rendered scenes: exposure, vignetting, sensor noise, tone curve, JPEG.

Rendered scenes are noise-free and perfectly exposed; real photographs are not, and a detector trained on
clean renders reads sensor noise and JPEG blocking in flat blurred regions as "sharp texture". Each
sample draws its own camera from its own generator, so a batch equals its samples rendered one by one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch


@dataclass
class CameraConfig:
    """Ranges of the simulated camera (each sample draws one value of each).

    Args:
        prob: probability that a sample goes through the pipeline at all (else it stays clean).
        exposure: max |log gain|; the gain is exp(U(-exposure, exposure)).
        vignette: max corner fall-off (brightness × (1 − v·r²), r = 1 at the corners).
        shot_noise: (lo, hi) log-uniform range of the shot-noise variance per unit intensity.
        read_noise: max std of the signal-independent read noise.
        gamma: (lo, hi) tone-curve exponent range (output = input ** (1 / gamma)).
        contrast: (lo, hi) S-curve strength (0 = none, negative flattens).
        jpeg_prob: probability of a JPEG round trip.
        jpeg_quality: (lo, hi) JPEG quality range.
    """

    prob: float = 0.9
    exposure: float = 0.4
    vignette: float = 0.4
    shot_noise: tuple[float, float] = (1e-4, 3e-3)
    read_noise: float = 0.01
    gamma: tuple[float, float] = (0.8, 1.25)
    contrast: tuple[float, float] = (-0.2, 0.5)
    jpeg_prob: float = 0.8
    jpeg_quality: tuple[int, int] = (50, 95)


def as_camera(camera: CameraConfig | Mapping[str, Any] | bool | None) -> CameraConfig | None:
    """``None``/``False`` → off, ``True`` → defaults, a dict (e.g. from Hydra) → its fields."""
    if camera is None or camera is False:
        return None
    if camera is True:
        return CameraConfig()
    if isinstance(camera, CameraConfig):
        return camera
    fields = dict(camera)
    if not fields.pop("enabled", True):
        return None
    return CameraConfig(**fields)


def _u(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(1, generator=gen, dtype=torch.float64))


def apply_camera(image: torch.Tensor, cfg: CameraConfig, seed: int) -> torch.Tensor:
    """One sample 3×H×W (linear, may exceed 1 at highlights) → a camera-like image in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    if _u(gen, 0.0, 1.0) >= cfg.prob:
        return image.clamp(0.0, 1.0)
    gain = math.exp(_u(gen, -cfg.exposure, cfg.exposure))
    vignette = _u(gen, 0.0, cfg.vignette)
    shot = math.exp(_u(gen, math.log(cfg.shot_noise[0]), math.log(cfg.shot_noise[1])))
    read = _u(gen, 0.0, cfg.read_noise)
    noise_gen = torch.Generator(device=image.device).manual_seed(seed ^ 0x2545F491)
    noise = torch.randn(image.shape, generator=noise_gen, device=image.device, dtype=image.dtype)
    gamma = _u(gen, *cfg.gamma)
    x = camera_response(image, gain, vignette, shot, read, noise, gamma, _u(gen, *cfg.contrast))
    if _u(gen, 0.0, 1.0) < cfg.jpeg_prob:
        x = jpeg_round_trip(x, int(round(_u(gen, *cfg.jpeg_quality))))
    return x


Scalar = float | torch.Tensor  # a float for one sample, or B×1×1×1 values for a batch


def camera_response(
    x: torch.Tensor,
    gain: Scalar,
    vignette: Scalar,
    shot: Scalar,
    read: Scalar,
    noise: torch.Tensor,
    gamma: Scalar,
    contrast: Scalar,
) -> torch.Tensor:
    """Pure camera model (shared with the batched device renderer): exposure ``gain``, vignetting, shot and
    read noise (``noise``: unit normal, x's shape), tone curve x^(1/``gamma``) and an S-curve; → [0, 1]."""
    h, w = x.shape[-2:]
    x = x * gain
    y = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype).view(h, 1)
    xx = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype).view(1, w)
    x = x * (1.0 - vignette * (y**2 + xx**2) / 2.0)
    std = (shot * x.clamp(0.0, 1.0) + read**2).sqrt()
    x = (x + std * noise).clamp(0.0, 1.0)
    x = x ** (1.0 / gamma)
    return (x + contrast * (x - 0.5) * (1.0 - (2.0 * x - 1.0).abs())).clamp(0.0, 1.0)  # S-curve, fixed ends


def jpeg_round_trip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode a 3×H×W [0, 1] image as JPEG at ``quality`` and decode it (OpenCV, on the CPU)."""
    rgb = (image.detach().permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).clip(0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed at quality {quality}")
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return torch.from_numpy(dec).to(image.device, image.dtype).permute(2, 0, 1) / 255.0
