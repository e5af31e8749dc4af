"""What ``model.predict`` accepts, turned into float RGB in [0, 1] (input contract: RGB in [0, 1]).

Paths and PIL images are decoded by ``dbdzoo.data.io`` (EXIF orientation applied, as for the readers and
``dbdzoo predict``); arrays may be uint8, uint16, bool or float in [0, 1], grey (H×W, H×W×1), RGB or
RGBA (alpha dropped). A float image in 0–255 is refused rather than silently saturated.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

ImageLike = Any  # str | os.PathLike | PIL.Image.Image | np.ndarray


def check_range(lo: float, hi: float, what: str) -> None:
    """Refuse float input outside [0, 1]; 0–255 data is the usual cause."""
    if lo < -1e-3 or hi > 1 + 1e-3:
        hint = "; it looks like 0–255: divide by 255, or pass a uint8 array" if hi > 1.5 else ""
        raise ValueError(f"{what} must hold RGB in [0, 1], got values in [{lo:.4g}, {hi:.4g}]{hint}")


def to_rgb_float(image: ImageLike) -> np.ndarray:
    """float32 H×W×3 RGB in [0, 1] from a path, PIL image or array.

    The data layer (OpenCV, its dataset readers) loads only for paths and PIL images: arrays need none.
    """
    from PIL import Image

    if isinstance(image, str | os.PathLike):
        from ..data.io import read_rgb_float

        return read_rgb_float(image)
    if isinstance(image, Image.Image):
        from ..data.io import pil_to_float, upright

        return pil_to_float(upright(image))
    if not isinstance(image, np.ndarray):
        raise TypeError(f"predict takes a path, PIL image, numpy array or tensor, got {type(image).__name__}")
    arr = image
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., :3]
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(
            f"predict expects uint8 H×W×3 RGB arrays (or H×W grey, or float in [0, 1]), got {image.dtype} {image.shape}"
        )
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise ValueError("predict: the image holds NaN or infinite values")
        check_range(float(arr.min()), float(arr.max()), "predict: a float image")
        return np.clip(arr, 0.0, 1.0)
    raise ValueError(
        f"predict expects uint8 H×W×3 RGB arrays or float in [0, 1], got {arr.dtype} {image.shape}"
    )


def tensor_input(x: torch.Tensor) -> torch.Tensor:
    """B×3×H×W float in [0, 1] from a B×3×H×W or 3×H×W tensor (uint8 tensors are scaled by 1/255)."""
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"predict expects a B×3×H×W (or 3×H×W) tensor, got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float() / 255
    if not x.is_floating_point():
        raise ValueError(f"predict expects a float tensor in [0, 1] or uint8, got {x.dtype}")
    if x.numel():
        lo, hi = torch.aminmax(x.detach())
        check_range(float(lo), float(hi), "predict: the tensor")
    return x
