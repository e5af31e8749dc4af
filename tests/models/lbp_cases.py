"""Oracle inputs for the LBP sharpness test: tiny seeded images (PCG64 streams are platform-stable)."""

from __future__ import annotations

import numpy as np

SCALES = (11, 15, 21)
THRESHOLD = 0.016
CUHK_IMAGE = "out_of_focus0045"


def synthetic_cases() -> dict[str, np.ndarray]:
    """uint8 RGB images: noise, a smooth ramp with a noisy half, and one narrower than the window."""
    rng = np.random.default_rng(2016)
    noise = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    ramp = np.tile(np.linspace(0, 255, 32), (24, 1))[..., None].repeat(3, 2)
    half = ramp.copy()
    half[:, 16:] += rng.normal(0, 20, (24, 16, 3))
    narrow = rng.integers(0, 256, (9, 7, 3), dtype=np.uint8)
    return {
        "noise": noise,
        "ramp_half_noisy": np.clip(half, 0, 255).astype(np.uint8),
        "narrow": narrow,
    }
