"""One live run per run directory, and no leftovers from a killed one.

Two runs writing one folder would interleave metrics and overwrite each other's checkpoints, so the
run holds an exclusive ``flock`` on ``<run dir>/.run.lock`` while it trains. The kernel releases the
lock when the process dies (even by ``kill -9``), which is what makes the lock safe to trust: a held
lock always means a live run, and a resume of a killed run finds it free.

Hydra writes ``<run dir>/.hydra/*.yaml`` before any dbdzoo code runs, so a refused run has already
replaced those three files in the live run's folder; that is why run ids are unique to the microsecond
(two runs meet in one folder only when it is named explicitly). The live run's log, metrics and
checkpoints stay untouched: the entry point claims the folder before it opens the log.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; runs there are not guarded
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".run.lock"


class RunFolderInUse(RuntimeError):
    """Another live process holds the run directory."""


class RunFolderLock:
    """Exclusive, non-blocking claim on a run directory for the lifetime of a run (rank 0 only).

    Re-entrant within one process: the entry point claims the folder before it opens the run's log,
    and ``train()`` (which also runs without the entry point) claims it again at no cost.
    """

    _held: dict[Path, list] = {}  # resolved lock path -> [open file, claim count]

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._claimed = False

    def acquire(self) -> RunFolderLock:
        key = self.path.resolve()
        if key in self._held:
            self._held[key][1] += 1
            self._claimed = True
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open: the lock lives as long as the descriptor)
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                handle.close()
                raise RunFolderInUse(
                    f"run directory {self.path.parent} is in use by another live run (pid {holder}); "
                    "wait for it, or start this one in a fresh folder (hydra.run.dir=<folder>)"
                ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._held[key] = [handle, 1]
        self._claimed = True
        return self

    def release(self) -> None:
        if not self._claimed:
            return
        self._claimed = False
        key = self.path.resolve()
        entry = self._held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del self._held[key]
            entry[0].close()  # closing the descriptor releases the flock

    def __enter__(self) -> RunFolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def remove_stale_temporaries(ckpt_dir: str | os.PathLike) -> list[Path]:
    """Delete ``.<name>.*.tmp`` files that a killed ``atomic_torch_save`` left behind.

    Only safe while this run holds the folder's lock: no other process can be writing them.
    """
    folder = Path(ckpt_dir)
    stale = sorted(folder.glob(".*.tmp")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


#: what a run leaves in ``<run dir>/checkpoints``; a fresh run would replace every one of them
RUN_FILES = ("last.pt", "best.pt", "last.safetensors", "last.json")


class RunFolderHasRun(RuntimeError):
    """The run directory holds an earlier run's checkpoints and nothing said to continue or replace them."""


def refuse_finished_run(run_dir: str | os.PathLike, config: dict) -> None:
    """Refuse to start afresh over an earlier run's checkpoints, unless ``resume=`` or ``overwrite=true``.

    A fresh run in a folder named again with ``hydra.run.dir`` would otherwise replace ``last.pt`` (step 10
    by step 2) and ``best.pt`` without a word. With ``overwrite=true`` the old checkpoint files are deleted
    first, so the folder never mixes a new ``last.pt`` with an old ``best.pt``. Read-only otherwise, so
    every torchrun rank can call it and they all agree.
    """
    ckpt_dir = Path(run_dir) / "checkpoints"
    found = [ckpt_dir / name for name in RUN_FILES if (ckpt_dir / name).is_file()]
    if not found or config.get("resume"):
        return
    if not config.get("overwrite"):
        raise RunFolderHasRun(
            f"run directory {Path(run_dir)} already holds an earlier run ({', '.join(p.name for p in found)} "
            "in checkpoints/); continue it with resume=auto, start in another folder (hydra.run.dir=<new>), "
            "or replace it with overwrite=true"
        )
    if int(os.environ.get("RANK", "0")) == 0:
        for path in found:
            path.unlink(missing_ok=True)
        print(f"overwrite=true: removed the earlier run's {', '.join(p.name for p in found)} from {ckpt_dir}")
