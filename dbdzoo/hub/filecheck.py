"""Is a downloaded file a complete weights file? The check for downloads that come without a SHA-256.

Without a pinned hash nothing says what the bytes should be, so a cut connection without a
Content-Length, an HTML error page served with status 200, or a corrupted cached copy would otherwise be
cached and reused forever. Each format dbdzoo loads has a cheap completeness test: safetensors declares
its exact length in its header, zip files (torch ≥ 1.6 checkpoints, ``.npz``) end with a central
directory and carry a CRC per member, and legacy torch pickles are read with ``weights_only=True``.
"""

from __future__ import annotations

import json
import pickle
import struct
import zipfile
from pathlib import Path

from .errors import UnreadableFileError

_HEAD = 512
_MAX_SAFETENSORS_HEADER = 100 << 20  # the safetensors library's own limit


def looks_like_html(head: bytes) -> bool:
    """True for the first bytes of an HTML/XML page (error, login or redirect pages served as 200)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<!--"))


def _safetensors_problem(path: Path, head: bytes, size: int) -> str | None:
    """Why ``path`` is not a complete safetensors file, or None when it is one."""
    (n,) = struct.unpack("<Q", head[:8])
    if n > _MAX_SAFETENSORS_HEADER or 8 + n > size:
        return f"its safetensors header claims {n} bytes but the file has {size}"
    with open(path, "rb") as f:
        f.seek(8)
        raw = f.read(n)
    try:
        header = json.loads(raw)
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return f"its safetensors header is corrupt ({type(exc).__name__})"
    expected = 8 + n + max(ends, default=0)
    if expected != size:
        return f"its safetensors header describes {expected} bytes but the file has {size} (truncated?)"
    return None


def _zip_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return f"it is a truncated or corrupt zip file ({exc})"
    return None if bad is None else f"zip member {bad!r} fails its CRC check (corrupt)"


def _torch_pickle_problem(path: Path) -> str | None:
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only load failed" in str(exc).lower():
            return None  # complete but unsafe: the loader refuses it with its own message
        return f"it is a truncated or corrupt torch file ({str(exc).splitlines()[0] if str(exc) else exc!r})"
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        return f"it is a truncated or corrupt torch file ({type(exc).__name__})"
    return None


def weights_file_problem(path: str | Path, content_type: str | None = None) -> str | None:
    """Why ``path`` is not a complete safetensors / zip (``.pt``, ``.npz``) / torch-pickle file, or None.

    ``content_type`` (the response header) only explains a failure; a valid file is accepted whatever
    the server called it.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    html = "the server sent an HTML page (an error or login page?), not a weights file"
    if looks_like_html(head):
        return html
    if size == 0:
        problem: str | None = "the file is empty"
    elif head.startswith(b"PK"):
        problem = _zip_problem(path)
    elif head.startswith(b"\x80"):  # pickle protocol >= 2: torch's legacy (pre-1.6) format
        problem = _torch_pickle_problem(path)
    elif size >= 10 and head[8:9] == b"{":
        problem = _safetensors_problem(path, head, size)
    else:
        problem = (
            "it is not a recognised weights format (safetensors, zip-based .pt/.pth/.npz, legacy torch) "
            f"and no sha256 was given to vouch for it; it starts with {head[:16]!r}"
        )
    if problem is not None and (content_type or "").lower().startswith(("text/html", "application/xhtml")):
        return html
    return problem


def check_weights_file(path: str | Path, url: str, content_type: str | None = None) -> None:
    """Delete ``path`` and raise ``UnreadableFileError`` (one line naming ``url``) unless it is complete."""
    problem = weights_file_problem(path, content_type)
    if problem is not None:
        Path(path).unlink(missing_ok=True)
        raise UnreadableFileError(f"{url}: {problem}; the file was deleted")
