"""Atomic, fully-resumable checkpoints that load with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file


def default_file_mode() -> int:
    """``0o666`` minus the process umask: the mode ``open()`` would give a new file.

    ``tempfile.mkstemp`` creates files ``0o600``; a checkpoint moved into place from one would be
    unreadable to the group that shares the run folder.
    """
    umask = os.umask(0o022)  # reading the umask means setting it; restore at once
    os.umask(umask)
    return 0o666 & ~umask


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` to a temp file in the same folder, fsync, then ``os.replace``: never a torn file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, default_file_mode())
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
    """Load a training checkpoint without unpickling arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{path}: cannot be read as a dbdzoo checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from exc


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


def export_release(
    model: torch.nn.Module, model_config: dict, path: str | os.PathLike, extra: dict | None = None
) -> Path:
    """Weights as ``.safetensors`` plus a JSON sidecar holding the config to rebuild the network."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"model_config": json.dumps(model_config)})
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps({"model_config": model_config, **(extra or {})}, indent=2, default=str))
    return path
