"""Reading weights files without unpickling objects: tensors, model config and working scale.

Formats: ``.safetensors`` (config in its metadata or in a ``.json`` sidecar) and tensors-only torch
checkpoints read with ``torch.load(weights_only=True)``: a training checkpoint ``{"model_config": {...},
"model": state_dict, "ema": state_dict?, "working_max_side": int?}`` or a bare state dict.
Rebuilding the network from what is read lives in ``rebuild.py``.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any, NamedTuple

import torch

from .errors import CheckpointFormatError, UnsafeCheckpointError

#: safetensors metadata key holding the JSON model config (metadata values must be strings).
CONFIG_METADATA_KEY = "dbdzoo_model_config"
#: safetensors metadata key (and checkpoint / config.json / sidecar key ``working_max_side``) holding the
#: long side, in pixels, of the images the weights were trained at (``models/scale.py``).
WORKING_MAX_SIDE_KEY = "dbdzoo_working_max_side"
_TORCH_SUFFIXES = {".pt", ".pth", ".ckpt", ".bin"}


class WeightsFile(NamedTuple):
    """What one weights file holds: its tensors, its model config (if any) and its working scale (if known)."""

    state: dict[str, torch.Tensor]
    config: dict[str, Any] | None
    working_max_side: int | None = None


def working_max_side_of(value: Any, source: Any) -> int | None:
    """A stored ``working_max_side`` checked: a positive pixel count, or ``None`` (native size)."""
    if value is None:
        return None
    digits = isinstance(value, str) and value.isdigit()
    if not (digits or isinstance(value, int) and not isinstance(value, bool)) or int(value) < 1:
        raise CheckpointFormatError(
            f"{source}: working_max_side={value!r}: expected a positive integer (pixels) or null"
        )
    return int(value)


def _strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix) :]: v for k, v in state.items()}
    return state


def normalise_state_dict(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Drop EMA bookkeeping and the ``module.`` (DDP, AveragedModel) / ``_orig_mod.`` (compile) prefixes."""
    state = {k: v for k, v in state.items() if k != "n_averaged"}
    for prefix in ("module.", "_orig_mod."):
        state = _strip_prefix(state, prefix)
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointFormatError(f"state dict entries are not tensors: {', '.join(bad[:5])}")
    return state


def _first_line(exc: BaseException) -> str:
    """``Type: first line`` of an exception; torch raises some with an empty message."""
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_safetensors(path: str | os.PathLike) -> WeightsFile:
    """Tensors, embedded model config and working scale (each if present) of a ``.safetensors`` file."""
    from safetensors import SafetensorError, safe_open

    size = Path(path).stat().st_size
    if size == 0:
        raise CheckpointFormatError(f"{path}: empty file (0 bytes); it was never written completely")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointFormatError(
            f"{path}: not a valid .safetensors file ({size} bytes; truncated? {_first_line(exc)})"
        ) from None
    config = None
    if CONFIG_METADATA_KEY in metadata:
        try:
            config = json.loads(metadata[CONFIG_METADATA_KEY])
        except json.JSONDecodeError as exc:
            raise CheckpointFormatError(f"{path}: corrupt {CONFIG_METADATA_KEY} metadata ({exc})") from exc
    return WeightsFile(state, config, working_max_side_of(metadata.get(WORKING_MAX_SIDE_KEY), path))


def read_sidecar(path: str | os.PathLike) -> WeightsFile | None:
    """Model config and working scale from a ``<stem>.json`` or ``<file>.json`` sidecar (no tensors)."""
    path = Path(path)
    for candidate in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text())
            except json.JSONDecodeError as exc:
                raise CheckpointFormatError(f"{candidate}: invalid JSON ({exc})") from exc
            side = (
                working_max_side_of(data.get("working_max_side"), candidate)
                if isinstance(data, dict)
                else None
            )
            return WeightsFile({}, config_from_json(data, candidate), side)
    return None


def config_from_json(data: Any, source: Any) -> dict[str, Any]:
    """Accept ``{"model_config": {...}}`` (ours) or a flat ``{"name": ..., ...}`` config."""
    if isinstance(data, dict) and isinstance(data.get("model_config"), dict):
        return data["model_config"]
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        return {k: v for k, v in data.items() if k not in {"dbdzoo_version", "task", "library_name"}}
    raise CheckpointFormatError(f"{source}: no model config (expected a 'model_config' object with a 'name')")


def read_weights_file(path: Path, ema: bool | None = None) -> WeightsFile:
    """Any weights file, chosen by suffix then by content; what it lacks is taken from a sidecar."""
    if path.suffix == ".safetensors":
        found = read_safetensors(path)
    elif path.suffix in _TORCH_SUFFIXES:
        found = read_torch_checkpoint(path, ema)
    else:
        with open(path, "rb") as f:
            head = f.read(4)
        # torch checkpoints are zip files (PK..); anything else is tried as safetensors
        found = read_torch_checkpoint(path, ema) if head.startswith(b"PK") else read_safetensors(path)
    if found.config is None or found.working_max_side is None:
        side = read_sidecar(path)
        if side is not None:
            found = WeightsFile(
                found.state, found.config or side.config, found.working_max_side or side.working_max_side
            )
    return found


def read_torch_checkpoint(path: str | os.PathLike, ema: bool | None = None) -> WeightsFile:
    """Weights, model config and working scale of a torch checkpoint, refusing anything but plain tensors.
    Args:
        path: ``.pt``/``.pth``/``.ckpt`` file.
        ema: ``None`` follows the checkpoint: the EMA weights when it has them, unless its ``weights``
            entry says ``"raw"`` (a ``best.pt`` chosen on the raw network's metric); ``True`` requires
            the EMA weights, ``False`` takes the raw ones.
    """
    size = Path(path).stat().st_size
    if size == 0:
        raise CheckpointFormatError(f"{path}: empty file (0 bytes); it was never written completely")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only load failed" in str(exc).lower() or "unsupported global" in str(exc).lower():
            raise UnsafeCheckpointError(
                f"{path}: refused — it contains pickled Python objects beyond tensors, which could run code. "
                "Load only files you trust, re-save their state dict as .safetensors, then load that"
            ) from None
        raise CheckpointFormatError(
            f"{path}: not a torch checkpoint ({size} bytes; {_first_line(exc)})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, IndexError, KeyError) as exc:
        raise CheckpointFormatError(
            f"{path}: corrupt or truncated checkpoint ({size} bytes; {_first_line(exc)})"
        ) from None
    if not isinstance(obj, dict):
        raise CheckpointFormatError(f"{path}: expected a dict checkpoint, got {type(obj).__name__}")
    config = obj.get("model_config")
    if (
        config is None
        and isinstance(obj.get("config"), dict)
        and isinstance(obj["config"].get("model"), dict)
    ):
        config = obj["config"]["model"]  # a full resolved Hydra config
    if ema is None and obj.get("weights") == "raw":
        ema = False
    if ema is not False and isinstance(obj.get("ema"), dict):
        state = obj["ema"]
    elif ema:
        raise CheckpointFormatError(f"{path}: ema=True but the checkpoint has no 'ema' weights")
    else:
        state = next(
            (obj[k] for k in ("model", "state_dict", "model_state_dict") if isinstance(obj.get(k), dict)), obj
        )
    return WeightsFile(
        normalise_state_dict(state), config, working_max_side_of(obj.get("working_max_side"), path)
    )
