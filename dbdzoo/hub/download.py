"""Downloads through the torch hub cache, verified by SHA-256 and written atomically.

Why not ``torch.hub.load_state_dict_from_url``: it checks only a hash *prefix* taken from the file name,
and only when asked; it reuses a cached file without checking it; and it hands the file to ``torch.load``.
Here every file is hashed against the full digest, a mismatch deletes the file, and the caller decides how
to read it (safetensors, or ``torch.load(weights_only=True)``). A file without a known hash must at least
be a complete weights file (``filecheck``) before it enters the cache, and again before a cached copy is
reused; otherwise a cut connection or an HTML error page would be cached and served forever.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from ..files import default_file_mode
from .errors import DownloadError, HashFormatError, IntegrityError, UnreadableFileError
from .filecheck import check_weights_file, looks_like_html

_CHUNK = 1 << 20
_OFFLINE_VARS = ("DBDZOO_OFFLINE", "HF_HUB_OFFLINE")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class UnverifiedDownloadWarning(UserWarning):
    """A file was downloaded without a known SHA-256; the warning reports the hash to pin it."""


@dataclass(frozen=True)
class Downloaded:
    """Where a verified file lies, its SHA-256, and whether the cache already had it."""

    path: Path
    sha256: str
    from_cache: bool


def cache_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints`` — the cache torchvision and timm URL downloads also use."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def is_offline() -> bool:
    """True when ``DBDZOO_OFFLINE`` or ``HF_HUB_OFFLINE`` is set to a true value."""
    return any(os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"} for v in _OFFLINE_VARS)


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(sha256: object, url: str) -> str | None:
    """``sha256`` lower-cased, or ``HashFormatError`` unless it is None or 64 hex characters."""
    if sha256 is None:
        return None
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        if not isinstance(sha256, str):
            what = f"a {type(sha256).__name__}"
        else:
            what = f"{len(sha256)} characters" if len(sha256) != 64 else "non-hexadecimal characters"
        raise HashFormatError(
            f"sha256={sha256!r} for {url} is not a SHA-256 digest: "
            f"expected 64 hexadecimal characters, got {what}"
        )
    return sha256.lower()


def default_file_name(url: str, sha256: str | None) -> str:
    """Cache name for ``url``: base name plus a hash prefix (of the file if known, else of the URL).

    Unpinned URLs get a prefix of the URL's own hash so two different URLs ending in ``model.safetensors``
    never share a cache entry.
    """
    name = PurePosixPath(urlparse(url).path).name or "weights"
    prefix = (sha256 or hashlib.sha256(url.encode()).hexdigest())[:8]
    stem, dot, ext = name.partition(".")
    return name if prefix in stem else f"{stem}-{prefix}{dot}{ext}"


def _check(path: Path, url: str, sha256: str | None, size: int | None) -> str:
    """Hash ``path`` and compare with the expectations; on mismatch delete it and raise."""
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        path.unlink(missing_ok=True)
        raise IntegrityError(
            f"{url}: expected {size} bytes, got {actual_size} (truncated or wrong file); the file was deleted"
        )
    actual = sha256_of(path)
    if sha256 is not None and actual != sha256.lower():
        with open(path, "rb") as f:
            html = looks_like_html(f.read(512))
        path.unlink(missing_ok=True)
        hint = " (the server sent an HTML page, not the file)" if html else ""
        raise IntegrityError(
            f"SHA-256 mismatch for {url}: expected {sha256.lower()}, got {actual}{hint}; the file was deleted"
        )
    return actual


def _fetch(url: str, dest_dir: Path, progress: bool, timeout: float) -> tuple[Path, str | None]:
    """Stream ``url`` into a temporary file in ``dest_dir`` (same file system: the final move is atomic).

    Returns the temporary file and the response's Content-Type.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "dbdzoo"})
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, default_file_mode())
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            content_type = response.headers.get("Content-Type")
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(
                    total=expected, unit="B", unit_scale=True, desc=tmp.name, file=sys.stderr, leave=False
                )
            received = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
        if expected is not None and received != expected:
            raise DownloadError(
                f"{url}: connection closed after {received} of {expected} bytes (truncated download)"
            )
        return tmp, content_type
    except urllib.error.HTTPError as exc:
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        tmp.unlink(missing_ok=True)
        raise DownloadError(
            f"{url}: cannot reach the server ({exc.reason}); "
            "download the file elsewhere and pass its local path"
        ) from exc
    except http.client.IncompleteRead as exc:
        tmp.unlink(missing_ok=True)
        raise DownloadError(
            f"{url}: connection closed after {len(exc.partial)} bytes (truncated download)"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def download(
    url: str,
    *,
    sha256: str | None = None,
    size: int | None = None,
    file_name: str | None = None,
    directory: str | os.PathLike | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Downloaded:
    """Fetch ``url`` into the cache (or reuse the cached copy) and verify it.

    Args:
        url: http(s) address.
        sha256: expected hex digest (64 hex characters, checked before downloading). Without one the
            file must be a complete safetensors / zip (``.pt``, ``.npz``) / torch file, fresh or cached,
            and its hash is reported in an ``UnverifiedDownloadWarning`` so it can be pinned.
        size: expected size in bytes, checked before hashing.
        file_name: cache file name; default ``default_file_name(url, sha256)``.
        directory: cache folder; default ``cache_dir()``.
        progress: show a tqdm bar on stderr.
        timeout: socket timeout in seconds.

    Returns:
        The verified file's path and digest.

    Raises:
        HashFormatError: ``sha256`` is not a 64-character hex digest.
        IntegrityError: size or hash differ (the file is deleted; a cached copy that fails is fetched again).
        UnreadableFileError: no hash, and the file is truncated, an HTML page or an unknown format
            (deleted; a cached copy that fails is fetched again).
        DownloadError: HTTP error, unreachable host, truncated transfer, or offline without a cached copy.
    """
    if urlparse(url).scheme not in {"http", "https"}:
        raise DownloadError(f"only http(s) URLs can be downloaded, got {url!r}")
    sha256 = check_sha256(sha256, url)
    folder = Path(directory) if directory is not None else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (file_name or default_file_name(url, sha256))
    if target.is_file():
        try:
            if sha256 is None:
                check_weights_file(target, url)
            return Downloaded(target, _check(target, url, sha256, size), from_cache=True)
        except (IntegrityError, UnreadableFileError):
            pass  # a corrupt cached copy was deleted; fetch a fresh one below
    if is_offline():
        raise DownloadError(
            f"{url} is not cached at {target} and offline mode is on ({'/'.join(_OFFLINE_VARS)}); "
            "copy the file there or unset offline mode"
        )
    tmp, content_type = _fetch(url, folder, progress, timeout)
    actual = _check(tmp, url, sha256, size)
    if sha256 is None:  # nothing vouches for these bytes: they must at least be a whole weights file
        check_weights_file(tmp, url, content_type)
    os.replace(tmp, target)
    if sha256 is None:
        warnings.warn(
            f"downloaded {url} without a known SHA-256; its sha256 is {actual} (pass sha256=... to pin it)",
            UnverifiedDownloadWarning,
            stacklevel=2,
        )
    return Downloaded(target, actual, from_cache=False)
