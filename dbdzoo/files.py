"""Atomic file writes with the permissions a plain ``open()`` would give: shared by checkpoints,
releases and the download cache (a leaf module, like ``registry``).

``tempfile.mkstemp`` creates files ``0o600``; a checkpoint or cached weight moved into place from one
would be unreadable to the group that shares the folder, so every writer resets the mode first.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

#: errors that mean "the file system has no room left" (a quota counts: the user cannot write either)
_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(OSError):
    """A write failed for lack of space; ``str()`` is the one line the entry points print."""

    def __init__(self, message: str, filename: str | os.PathLike | None = None) -> None:
        super().__init__(message)
        self.errno = errno.ENOSPC
        self.filename = None if filename is None else os.fspath(filename)

    def __str__(self) -> str:
        return str(self.args[0])


def describe_os_error(exc: OSError) -> str:
    """One line for a failed file operation: "no space left on device: <file>" or "<reason>: <file>"."""
    if isinstance(exc, DiskFullError):
        return str(exc)
    where = exc.filename if exc.filename is not None else ""
    if exc.errno in _FULL:
        return f"no space left on device: {where}".rstrip(": ")
    if not exc.strerror:
        return str(exc) or type(exc).__name__
    reason = exc.strerror.rstrip(".").lower()
    return f"{reason}: {where}" if where else reason


def current_umask() -> int:
    """The process umask, read without changing it where the kernel reports it (Linux ≥ 4.7).

    Elsewhere it falls back to ``os.umask``, which must set a value to read one and restores it at once.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def default_file_mode() -> int:
    """``0o666`` minus the process umask: the mode ``open()`` would give a new file."""
    return 0o666 & ~current_umask()


def temporary_file(path: Path, suffix: str = ".tmp") -> Path:
    """An empty ``.<name>.*<suffix>`` beside ``path`` (same file system, so the final rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, default_file_mode())
    return Path(tmp)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` into a temporary file beside ``path``, fsync, then rename: never a torn file.

    A full disk raises :class:`DiskFullError` naming ``path`` and saying that its previous version (if
    any) is untouched, because the rename is the only step that replaces it.
    """
    path = Path(path)
    try:
        tmp = temporary_file(path)
    except OSError as exc:
        if exc.errno in _FULL:
            raise disk_full(path) from None
        raise
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())  # again: some writers replace the file instead of filling it
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in _FULL:
            raise disk_full(path) from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def disk_full(path: Path) -> DiskFullError:
    """The error for a write of ``path`` that ran out of space (the old file, if any, is kept)."""
    kept = f"; the previous {path.name} is kept" if path.exists() else "; nothing was replaced"
    return DiskFullError(f"no space left on device: {path}{kept}", path)
