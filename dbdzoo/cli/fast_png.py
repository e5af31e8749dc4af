"""A minimal PNG encoder for 8-bit maps: numpy "Up" filter + zlib level 1, twice as fast as Pillow's.

Pillow chooses a filter per row by trying all five (``compress_level`` does not change that), which on a
24-megapixel blur map costs about 0.2 s of the 3 s a camera photo may take end to end. Maps resized up
from the working scale are smooth, so subtracting the row above ("Up", one vectorised numpy pass) leaves
mostly small values that zlib's fastest level compresses to about Pillow's size. Any standard PNG reader
decodes the result; other dtypes and shapes go through Pillow.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 3: 2}  # channels → PNG colour type (grey, RGB)
_FILTER_UP = 2


def supported(array: np.ndarray) -> bool:
    """uint8 H×W grey or H×W×3 RGB, at least one pixel: what :func:`encode` encodes itself."""
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or array.size == 0:
        return False
    return array.ndim == 2 or array.shape[2] == 3


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode(array: np.ndarray, level: int = 1) -> bytes:
    """The PNG file bytes of a uint8 grey or RGB image (see :func:`supported`)."""
    if not supported(array):
        raise ValueError(f"fast_png encodes uint8 H×W or H×W×3 arrays, got {array.dtype} {array.shape}")
    h, w = array.shape[:2]
    channels = 1 if array.ndim == 2 else 3
    rows = np.ascontiguousarray(array).reshape(h, w * channels)
    filtered = np.empty((h, w * channels + 1), np.uint8)
    filtered[:, 0] = _FILTER_UP
    filtered[0, 1:] = rows[0]  # the row above the first one counts as zeros
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])  # wraps modulo 256, as PNG's Up filter does
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    idat = zlib.compress(filtered.data, level)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
