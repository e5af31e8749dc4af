"""Atomic, fully-resumable checkpoints that load with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import errno
import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..files import atomic_write, default_file_mode  # noqa: F401  (default_file_mode: re-exported for callers)

#: below this much free space a failed torch zip write is taken for a full disk
_NEARLY_FULL = 16 << 20


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` through a temporary file, fsync and ``os.replace``: never a torn checkpoint.

    torch's zip writer reports a full disk as ``RuntimeError: [enforce fail at inline_container.cc] .
    unexpected pos`` without an errno; it becomes ``DiskFullError`` ("no space left on device: <file>;
    the previous last.pt is kept") when the folder is nearly full, else one line naming the file.
    """
    path = Path(path)

    def write(tmp: Path) -> None:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if shutil.disk_usage(tmp.parent).free < _NEARLY_FULL:
                raise OSError(errno.ENOSPC, "No space left on device", str(path)) from None
            kept = f"the previous {path.name} is kept" if path.exists() else "nothing was replaced"
            raise OSError(f"could not write {path} ({first}); {kept}") from None

    return atomic_write(path, write)


def rng_state() -> dict[str, Any]:
    """All RNG states as plain containers (numpy's as lists: ndarrays do not pass weights_only)."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "name": np_state[0],
            "keys": np_state[1].tolist(),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "gauss": float(np_state[4]),
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(
        (n["name"], np.asarray(n["keys"], dtype=np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    )
    if "cuda" in state and torch.cuda.is_available():  # a run resumed on fewer GPUs restores what exists
        for i, s in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s, i)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a training checkpoint without unpickling arbitrary objects; one clear line when it can't be."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        raise ValueError(
            f"{path} is released weights (.safetensors), not a training checkpoint: it holds no optimiser, "
            "schedule or step to resume; start from its weights with trainer.init_from=<file> instead, "
            "or resume from a checkpoints/last.pt"
        )
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{path}: checkpoint is empty (0 bytes); it was never written completely")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only load failed" not in str(exc).lower():
            raise ValueError(
                f"{path}: cannot be read as a dbdzoo checkpoint ({size} bytes; not a torch.save file)"
            ) from None
        # torch's own text suggests weights_only=False: that would run whatever code the file holds
        raise ValueError(
            f"{path}: refused, it holds pickled Python objects beyond tensors, so it is no dbdzoo checkpoint "
            "and loading it could run code; resume from a checkpoints/last.pt that dbdzoo wrote"
        ) from None
    except Exception as exc:
        detail = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(
            f"{path}: cannot be read as a dbdzoo checkpoint ({size} bytes; truncated or not a torch.save file): "
            f"{type(exc).__name__}{': ' + detail if detail else ''}"
        ) from exc
    if not isinstance(ckpt, dict) or "global_step" not in ckpt:
        raise ValueError(f"{path}: is not a dbdzoo training checkpoint (no global_step entry)")
    return ckpt


def config_difference(saved: Any, current: Any, prefix: str = "") -> list[str]:
    """Human-readable differences between two plain config trees (for refusing bad resumes)."""
    if isinstance(saved, dict) and isinstance(current, dict):
        diffs: list[str] = []
        for key in sorted(set(saved) | set(current)):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in saved:
                diffs.append(f"{where}: absent in checkpoint, now {current[key]!r}")
            elif key not in current:
                diffs.append(f"{where}: {saved[key]!r} in checkpoint, now absent")
            else:
                diffs.extend(config_difference(saved[key], current[key], where))
        return diffs
    return [] if saved == current else [f"{prefix}: {saved!r} in checkpoint, now {current!r}"]
