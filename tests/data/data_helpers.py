"""Image and ground-truth builders shared by the data tests (a module: conftest cannot be imported by name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

H, W = 12, 16


def rgb(seed: int, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def half_mask(h: int = H, w: int = W) -> np.ndarray:
    """Left 4 columns white: a known, asymmetric region (fraction 0.25)."""
    m = np.zeros((h, w), dtype=np.uint8)
    m[:, :4] = 255
    return m


def save_rgb(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(
        path,
        format={".jpg": "JPEG", ".bmp": "BMP", ".png": "PNG"}[path.suffix.lower()],
        **({"quality": 95} if path.suffix.lower() == ".jpg" else {}),
    )
    return path


def save_gt(path: Path, gray: np.ndarray, mode: str = "L") -> Path:
    """Write a ground truth as L, RGBA (colour = grey, opaque) or palette (P) image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(gray, "L")
    if mode == "RGBA":
        im = Image.merge("RGBA", (im, im, im, Image.new("L", im.size, 255)))
    elif mode == "P":
        im = im.convert("P")
    im.save(path)
    return path
