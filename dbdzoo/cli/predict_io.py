"""File side of ``dbdzoo predict``: decoding at the working scale, atomic map writes, the ``--out`` lock.

A 24-megapixel JPEG decoded at full size is 288 MB of float RGB and most of a second of CPU, only to be
shrunk to the 640-pixel scale the weights work at. JPEG can decode straight at 1/2, 1/4 or 1/8 scale
(Pillow's ``draft``), so when the network runs shrunk the photo is decoded at the smallest such scale
that still covers the working size; the map is then resized back to the photo's full, upright size, as
8-bit (Pillow bilinear, 24 MB) rather than float (96 MB), and written by a fast PNG encoder (``fast_png``).
Pillow and numpy are all this needs: ``dbdzoo.data`` (OpenCV, albumentations) loads only for the rare
16-bit or float images whose precision its reader keeps.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import numpy as np
import torch

from ..files import atomic_write
from ..models.scale import working_size
from . import CLIError

LOCK_NAME = ".dbdzoo-predict.lock"
_TURNED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
#: Pillow modes whose RGB conversion is exact in 8 bits (16-bit and float modes go through data.io)
_EIGHT_BIT = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}


def decode(path: Path, max_side: int | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """float32 H×W×3 RGB in [0, 1], upright, plus the photo's full upright ``(height, width)``.

    With ``max_side``, JPEGs larger than it are decoded at a reduced DCT scale whose size still covers
    ``working_size`` (the caller shrinks the rest of the way); other formats decode at full size.
    Unreadable files raise one ``CLIError`` naming them.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            orientation = im.getexif().get(0x0112, 1)
            turned = orientation in _TURNED
            w, h = im.size
            full = (w, h) if turned else (h, w)
            if max_side is not None and im.format == "JPEG":
                th, tw = working_size(*full, max_side)
                if (th, tw) != full:
                    im.draft("RGB", (th, tw) if turned else (tw, th))  # size in stored orientation
            im.load()
            if im.mode not in _EIGHT_BIT:
                from ..data.io import pil_to_float, upright

                return pil_to_float(upright(im)), full
            if orientation != 1:
                im = ImageOps.exif_transpose(im)
            return np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255.0), full
    except UnidentifiedImageError:
        raise CLIError(f"{path}: not an image (or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CLIError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None


def map_to_uint8(prob: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """A 1×h×w probability map as uint8 H×W at ``size``: quantised first, then resized up (bilinear).

    Resizing the 8-bit map (Pillow, pixel centres as torch's ``align_corners=False``) instead of the float
    one keeps a 24-megapixel map at 24 MB instead of 96 MB and takes a third of the time; the result is
    within one grey level of quantising the float resize.
    """
    from PIL import Image

    small = torch.round(prob[0].float().clamp(0, 1) * 255).to(torch.uint8).cpu().numpy()
    if small.shape == tuple(size):
        return small
    return np.asarray(Image.fromarray(small).resize((size[1], size[0]), Image.BILINEAR))


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8/uint16 image atomically (temp file + rename): a killed run never leaves a torn map.

    8-bit grey and RGB go through ``fast_png`` (zlib level 1; maps resized up from the working scale
    are smooth, so it costs little size), other images through Pillow.
    """
    from . import fast_png

    if fast_png.supported(array):
        atomic_write(path, lambda tmp: tmp.write_bytes(fast_png.encode(array)))
        return
    from PIL import Image

    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG", compress_level=1))


def write_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` atomically (through a file object: ``np.save`` appends ``.npy`` to other names)."""

    def _save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array)

    atomic_write(path, _save)


def overlay(image: np.ndarray, blur: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """uint8 RGB: the image tinted red where blurred, in proportion to the blur probability."""
    weight = alpha * blur[..., None]
    red = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    return (np.clip(image * (1 - weight) + red * weight, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_outputs(out: Path, stem: Path, src: Path, prob, full: tuple[int, int], args, sigma=None) -> None:
    """``<stem>_blur.png`` and the optional mask, overlay and σ files, each written atomically.

    ``prob`` is the 1×h×w map in [0, 1] at the working size (a torch tensor); every file is at the photo's
    ``full`` size. The blur PNG is resized in 8 bits; the mask and overlay need the float map at full size.
    """
    from ..models.scale import enlarge

    base = out / stem
    write_png(base.with_name(base.name + "_blur.png"), map_to_uint8(prob, full))
    if args.threshold is not None or args.overlay:
        big = enlarge(prob[None].float(), full)[0, 0].cpu().numpy()
        if args.threshold is not None:
            write_png(
                base.with_name(base.name + "_mask.png"),
                np.where(big >= args.threshold, 255, 0).astype(np.uint8),
            )
        if args.overlay:
            write_png(base.with_name(base.name + "_overlay.png"), overlay(decode(src)[0], big))
    if sigma is not None and args.sigma == "npy":
        write_npy(base.with_name(base.name + "_sigma.npy"), sigma.astype(np.float32))
    elif sigma is not None:
        from ..data.io import write_sigma_png

        name = base.with_name(base.name + "_sigma.png")
        atomic_write(name, lambda tmp: _sigma_via_png_name(tmp, sigma, write_sigma_png))


def _sigma_via_png_name(tmp: Path, sigma: np.ndarray, writer) -> None:
    """OpenCV picks the format by suffix: write ``<tmp>.png`` and move it onto ``tmp``."""
    png = tmp.with_name(tmp.name + ".png")
    writer(png, sigma)
    os.replace(png, tmp)


class OutputLock:
    """An exclusive ``flock`` on ``<out>/.dbdzoo-predict.lock`` for the whole run.

    Two predicts into one folder would interleave their maps silently; the second one is refused with
    one line instead. The kernel drops the lock when the holder dies, so a crash leaves no stale lock.
    """

    def __init__(self, out: Path) -> None:
        self.path = out / LOCK_NAME
        self.fd: int | None = None

    def __enter__(self) -> OutputLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise CLIError(
                    f"{self.path.parent}: another dbdzoo predict (pid {holder}) is writing there; "
                    "wait for it or choose another --out"
                ) from None
            try:  # the previous holder may have unlinked the file between our open and flock
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                self.fd = fd
                return self
            os.close(fd)

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None
