"""File discovery and decoding shared by every reader.

Readers never call PIL or OpenCV directly: going through these helpers keeps the bad-input rules
(case-insensitive extensions, RGBA/palette ground truth, one-line errors naming the file) in one place.

One EXIF policy everywhere: images and ground truth are decoded **with their EXIF orientation applied**
(what photo viewers and ``dbdzoo predict`` show), so a rotated phone JPEG gives the same map through a
reader, ``eval.py`` and ``model.predict(path)``. Maps are stored upright and carry no orientation tag.

Ground truth keeps what its values mean: 0/1, 0..255 and 0..65535 files all read as 0..255 and an
ambiguous range is refused (``gt_range``). dbdzoo's σ PNG encoding and the never-unpickling ``.npy``
loader live here too, so every reader, ``predict`` and ``eval`` share them.
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
#: PIL modes of 16-bit, 32-bit integer and float greyscale files (ground truth keeps their values).
DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
#: dbdzoo's 16-bit σ PNGs store round(σ_px × SIGMA_PNG_SCALE): 1/1000 px steps up to 65.535 px.
SIGMA_PNG_SCALE = 1000.0


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
    """Decode a ground-truth map as uint8 H×W on the 0..255 scale, whatever range the file stores.

    RGBA and LA files take channel 0 (CUHK ships 16 RGBA masks whose colour channels are equal), palette
    and RGB files go through PIL's luminance conversion. The stored range is read from the values
    (``gt_range``), so a 0/1 mask is not binarised into "no blur at all".
    """
    try:
        with Image.open(path) as im:
            im.load()
            im = upright(im)
            if im.mode in ("RGBA", "LA"):
                arr = np.array(im)[..., 0]
            elif im.mode in DEEP_MODES:
                arr = np.asarray(im)
            else:
                arr = np.array(im.convert("L"))
    except Exception as exc:
        raise DataError(f"{path}: cannot decode ground truth ({type(exc).__name__}: {exc})") from exc
    return np.ascontiguousarray(gt_range(arr, path))


def _values(arr: np.ndarray) -> str:
    vals = np.unique(arr)
    if len(vals) <= 6:
        return "{" + ", ".join(f"{v:g}" for v in vals.tolist()) + "}"
    return f"{len(vals)} levels in {vals[0]:g}..{vals[-1]:g}"


def gt_range(arr: np.ndarray, path: Path | str = "ground truth") -> np.ndarray:
    """uint8 0..255 from a ground truth stored as 0/1, 0..255 or 0..65535 (docs/datasets.md).

    The range comes from the values: maximum ≤ 1 is a 0/1 (or float 0..1) mask, ≤ 255 is 8-bit grey
    (also when stored in a 16-bit file), and a 16-bit file with white ≥ 32768 is full range (÷ 257). Any
    other range (negative, 256..32767, above 65535, NaN) cannot be placed and raises ``DataError``
    naming the file and the values found, instead of binarising into an empty mask.
    """
    arr = np.asarray(arr)
    if arr.size == 0:
        raise DataError(f"{path}: ground truth has no pixels")
    deep = arr.dtype != np.uint8
    data = arr.astype(np.float64) if deep else arr
    hi = float(data.max())
    if deep and (not np.isfinite(data).all() or float(data.min()) < 0):
        raise DataError(f"{path}: ground truth holds negative or non-finite values ({_values(arr)})")
    if hi <= 1:
        return np.round(np.asarray(data, np.float64) * 255).astype(np.uint8)
    if hi <= 255:
        return np.round(data).astype(np.uint8) if deep else arr
    if 32768 <= hi <= 65535:
        return np.round(data / 257.0).astype(np.uint8)
    raise DataError(
        f"{path}: ambiguous ground-truth range: {arr.dtype} values {_values(arr)}; expected 0/1, 0..255 or "
        "16-bit 0..65535 (white ≥ 32768). Rescale it to an 8-bit 0/255 mask"
    )


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


def write_sigma_png(path: Path, sigma_px: np.ndarray) -> None:
    """Write a σ map (pixels) as dbdzoo's 16-bit PNG, round(σ × ``SIGMA_PNG_SCALE``) clipped to 0..65535.

    ``predict`` and ``eval`` both write this file and ``read_sigma_png`` reads it back, so the encoding
    lives here once. Non-finite σ is refused rather than written as an arbitrary number.
    """
    sigma = np.asarray(sigma_px, dtype=np.float64)
    if sigma.ndim != 2:
        raise DataError(f"{path}: a σ map must be H×W, got shape {sigma.shape}")
    bad = int((~np.isfinite(sigma)).sum())
    if bad:
        raise DataError(f"{path}: σ map has {bad} non-finite pixel(s); refusing to write it")
    out = np.clip(np.round(sigma * SIGMA_PNG_SCALE), 0, 65535).astype(np.uint16)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), out):
        raise DataError(f"{path}: could not write the σ PNG (OpenCV refused the path)")


def read_sigma_png(path: Path) -> np.ndarray:
    """float32 σ in pixels from a PNG written by ``write_sigma_png``."""
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 2:
        raise DataError(
            f"{path}: expected a single-channel 16-bit PNG of σ in 1/{SIGMA_PNG_SCALE:g} px (or a .npy in px)"
        )
    return arr.astype(np.float32) / np.float32(SIGMA_PNG_SCALE)


def read_npy(path: Path) -> np.ndarray:
    """A numeric array from a ``.npy`` file, never unpickled; anything else is one line naming the file."""
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" not in str(exc) and "Object arrays" not in str(exc):
            raise DataError(f"{path}: cannot read as .npy ({exc})") from exc
        raise DataError(  # object dtype or a pickle: numpy's own message names no file
            f"{path}: holds pickled/object data, which is never loaded (allow_pickle=False); "
            "save a numeric array with np.save(path, array.astype(np.float32))"
        ) from exc
    except Exception as exc:
        raise DataError(f"{path}: cannot read as .npy ({type(exc).__name__}: {exc})") from exc
    if not isinstance(arr, np.ndarray):  # an .npz archive under a .npy name
        arr.close()
        raise DataError(f"{path}: is an .npz archive, expected one array saved with np.save")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise DataError(f"{path}: dtype {arr.dtype} is not a real numeric array")
    return arr
