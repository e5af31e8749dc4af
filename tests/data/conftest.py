"""Builders for miniature on-disk copies of every benchmark layout (tiny images, real names)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dbdzoo.data import load_split_list

H, W = 12, 16


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny tensors: intra-op threads only add synchronisation cost (30x slower on a busy 2-core box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


@pytest.fixture
def cuhk_root(tmp_path: Path) -> Path:
    """CUHK: the 100 BTBNet test stems, 6 training stems, 2 motion images; .JPG where CUHK has it."""
    root = tmp_path / "CUHK"
    upper = {
        "out_of_focus0026",
        "out_of_focus0027",
        "out_of_focus0028",
        "out_of_focus0099",
        "out_of_focus0103",
    }
    train = [f"out_of_focus{n:04d}" for n in (1, 2, 3, 80, 88, 704)]
    stems = list(load_split_list("cuhk_btbnet_test")) + train + ["motion0001", "motion0296"]
    for i, stem in enumerate(stems):
        ext = ".JPG" if stem in upper or stem == "out_of_focus0080" else ".jpg"
        save_rgb(root / "image" / f"{stem}{ext}", rgb(i))
        save_gt(
            root / "gt" / f"{stem}.png",
            half_mask(),
            mode="RGBA" if i % 7 == 0 else "P" if i % 11 == 0 else "L",
        )
    return root
