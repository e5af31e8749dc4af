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


#: CUHK-TR-1 photos of the whole-pipeline oracle (640×427 and 420×279), used where ``../shared`` exists
PIPELINE_CUHK_IMAGES = ("out_of_focus0004", "out_of_focus0045")


def _binomial_blur(a: np.ndarray, passes: int) -> np.ndarray:
    """[1 4 6 4 1]/16 along both axes ``passes`` times, edges replicated."""
    k = np.array([1, 4, 6, 4, 1]) / 16
    for _ in range(passes):
        for axis in (0, 1):
            a = np.apply_along_axis(lambda v: np.convolve(np.pad(v, 2, mode="edge"), k, "valid"), axis, a)
    return a


def pipeline_cases() -> dict[str, np.ndarray]:
    """uint8 RGB images, 96 wide and 64 high, for the whole pipeline: a blocky noisy texture, sharp on the left half (or
    inside a disc) and blurred elsewhere, so that every scale gets both kinds of matting constraint."""
    rng = np.random.default_rng(2016)
    h, w = 64, 96
    texture = rng.integers(0, 256, (h // 4, w // 4, 3)).repeat(4, 0).repeat(4, 1) + rng.normal(
        0, 25, (h, w, 3)
    )
    soft = np.stack([_binomial_blur(texture[..., c], 6) for c in range(3)], -1)
    split = texture.copy()
    split[:, w // 2 :] = soft[:, w // 2 :]
    yy, xx = np.mgrid[:h, :w]
    inside = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 3) ** 2
    disc = np.where(inside[..., None], texture, soft)
    return {
        name: np.clip(np.rint(a), 0, 255).astype(np.uint8)
        for name, a in {"split": split, "disc": disc}.items()
    }
