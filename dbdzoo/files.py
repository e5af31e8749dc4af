"""Atomic file writes with the permissions a plain ``open()`` would give: shared by checkpoints,
releases and the download cache (a leaf module, like ``registry``).

``tempfile.mkstemp`` creates files ``0o600``; a checkpoint or cached weight moved into place from one
would be unreadable to the group that shares the folder, so every writer resets the mode first.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


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
    """``write(tmp)`` into a temporary file beside ``path``, fsync, then rename: never a torn file."""
    path = Path(path)
    tmp = temporary_file(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())  # again: some writers replace the file instead of filling it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
