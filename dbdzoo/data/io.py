"""File discovery and decoding shared by every reader.

Readers never call PIL or OpenCV directly: going through these helpers keeps the bad-input rules
(case-insensitive extensions, RGBA/palette ground truth, one-line errors naming the file) in one place.

One EXIF policy everywhere: images and ground truth are decoded **with their EXIF orientation applied**
(what photo viewers and ``dbdzoo predict`` show), so a rotated phone JPEG gives the same map through a
reader, ``eval.py`` and ``model.predict(path)``. Maps are stored upright and carry no orientation tag.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

#: Grey level above which a binary ground truth counts as white (255). Strictly greater, so the
#: interpolated grey edges of the 320x320 Zhao package split at mid-grey (documented in docs/datasets.md).
GT_THRESHOLD = 127


class DataError(ValueError):
    """Bad dataset input; the first line names the file, key or value and what was expected."""


def list_files(folder: Path, exts: tuple[str, ...] = IMAGE_EXTS) -> dict[str, Path]:
    """Map stem -> path for files in ``folder`` whose extension matches ``exts`` case-insensitively.

    CUHK stores some images as ``.JPG``; matching on the lower-cased suffix keeps them. Two files with
    the same stem (e.g. ``a.jpg`` and ``a.png``) are an error because the pairing would be ambiguous.
    """
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.suffix.lower() not in exts:
            continue
        if p.stem in out:
            raise DataError(f"{folder}: two files share the stem {p.stem!r} ({out[p.stem].name}, {p.name})")
        out[p.stem] = p
    return out


def upright(im: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation tag says (unchanged without one)."""
    return ImageOps.exif_transpose(im) if im.getexif().get(0x0112, 1) != 1 else im


def pil_to_float(im: Image.Image) -> np.ndarray:
    """float32 H×W×3 RGB in [0, 1] from a PIL image of any mode (16-bit and float greyscale keep precision)."""
    if im.mode in {"I;16", "I;16B", "I;16L", "I;16N", "I"}:
        arr = np.asarray(im, dtype=np.float32)
        arr = arr / (65535.0 if im.mode != "I" or arr.max() > 255 else 255.0)
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif im.mode == "F":
        arr = np.repeat(np.asarray(im, dtype=np.float32)[..., None], 3, axis=2)
    else:
        arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(np.clip(arr, 0.0, 1.0))


def read_rgb_float(path: Path) -> np.ndarray:
    """float32 H×W×3 RGB in [0, 1] with EXIF orientation applied; unreadable files raise ``DataError``."""
    try:
        with Image.open(path) as im:
            im.load()
            return pil_to_float(upright(im))
    except Exception as exc:
        raise DataError(f"{path}: cannot decode image ({type(exc).__name__}: {exc})") from exc


def read_rgb(path: Path) -> np.ndarray:
    """Decode an image as uint8 H×W×3 RGB; truncated or unreadable files raise ``DataError``."""
    try:
        with Image.open(path) as im:
            im.load()  # forces a full decode so truncated files fail here, not later in a worker
            arr = np.array(upright(im).convert("RGB"))  # a writable copy (asarray is read-only)
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError... depending on the damage
        raise DataError(f"{path}: cannot decode image ({type(exc).__name__}: {exc})") from exc
    return np.ascontiguousarray(arr)


def read_gray(path: Path) -> np.ndarray:
    """Decode a ground-truth map as uint8 H×W.

    RGBA and LA files take channel 0 (CUHK ships 16 RGBA masks whose colour channels are equal), palette
    and RGB files go through PIL's luminance conversion, 16-bit files are rescaled to 0..255.
    """
    try:
        with Image.open(path) as im:
            im.load()
            im = upright(im)
            if im.mode in ("RGBA", "LA"):
                arr = np.array(im)[..., 0]
            elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.clip(np.asarray(im, dtype=np.float64) / 257.0, 0, 255).round().astype(np.uint8)
            else:
                arr = np.array(im.convert("L"))
    except Exception as exc:
        raise DataError(f"{path}: cannot decode ground truth ({type(exc).__name__}: {exc})") from exc
    return np.ascontiguousarray(arr)


def read_unchanged(path: Path) -> np.ndarray:
    """Decode without any conversion (keeps uint16 depth/σ PNGs intact); channels stay in BGR order."""
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise DataError(
            f"{path}: cannot decode file (OpenCV returned nothing; missing, truncated or not an image)"
        )
    return arr


def binarize(gray: np.ndarray, threshold: int | None = GT_THRESHOLD) -> np.ndarray:
    """Binary float32 map ``gray > threshold``; ``threshold=None`` keeps the soft map scaled to [0, 1]."""
    if threshold is None:
        return (gray.astype(np.float32) / 255.0).astype(np.float32)
    return (gray > threshold).astype(np.float32)
