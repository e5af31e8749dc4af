"""Reading weights without unpickling objects, and rebuilding a model from a saved config.

Formats: ``.safetensors`` (config in its metadata or in a ``.json`` sidecar) and tensors-only torch
checkpoints read with ``torch.load(weights_only=True)``: a training checkpoint ``{"model_config": {...},
"model": state_dict, "ema": state_dict?}`` or a bare state dict.
"""

from __future__ import annotations

import inspect
import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointFormatError, UnsafeCheckpointError

#: safetensors metadata key holding the JSON model config (metadata values must be strings).
CONFIG_METADATA_KEY = "dbdzoo_model_config"
#: keys older files carry in their model config that are no factory arguments: the nested objective
#: block and BTBNet/BTBCRL's ``loss``/``stage`` (training options since the objective group, issue 16),
#: and Hydra's ``_target_``. Files written now hold none of them.
LEGACY_CONFIG_KEYS = ("objective", "loss", "stage", "_target_")
#: backbone options that would load backbone weights during construction.
_BACKBONE_WEIGHT_KEYS = ("weights", "pretrained", "pretrained_cfg_overlay", "checkpoint_path")


def architecture_config(config: dict[str, Any]) -> dict[str, Any]:
    """The architecture part of a saved model config: the legacy training keys dropped."""
    return {k: v for k, v in config.items() if k not in LEGACY_CONFIG_KEYS}


def rebuild_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every "load pretrained backbone" switch turned off (rebuilding must never download).

    The saved weights replace the backbone's anyway; rebuilding must work offline and must not download.
    """
    if not isinstance(config, dict) or not isinstance(config.get("name"), str):
        raise CheckpointFormatError(
            f"a model config needs a 'name' key naming a registered model, got {config!r}"
        )
    clean = architecture_config(config)
    for key in list(clean):
        if key.startswith("pretrained"):
            clean[key] = False
    if isinstance(clean.get("backbone_kwargs"), dict):
        bk = {k: v for k, v in clean["backbone_kwargs"].items() if k not in _BACKBONE_WEIGHT_KEYS}
        clean["backbone_kwargs"] = bk or None
    return clean


#: integer options that size the network: a config file from elsewhere must keep them in this range,
#: or ``decoder_channels=10**7`` allocates gigabytes (and ``-1`` fails deep inside torch) before any check
_SIZE_KEY = re.compile(r"(^|_)(channels|size|sizes|width)$")
_MAX_SIZE = 8192


def check_model_config(config: dict[str, Any], source: str = "model config") -> None:
    """Refuse an unknown model, unknown options or out-of-range sizes before anything is allocated."""
    from ..models import MODELS, list_models

    name = config.get("name")
    if name not in list_models():
        raise CheckpointFormatError(
            f"{source}: model {name!r} is not registered (choose from {', '.join(list_models())})"
        )
    params = inspect.signature(MODELS.get(name)).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = sorted(k for k in config if k != "name" and k not in params)
        if unknown:
            raise CheckpointFormatError(f"{source}: {name} has no option(s) {', '.join(unknown)}")
    for key, value in config.items():
        if not (isinstance(key, str) and _SIZE_KEY.search(key)) or value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= _MAX_SIZE for v in values):
            raise CheckpointFormatError(
                f"{source}: {key}={value!r}: expected an integer from 1 to {_MAX_SIZE} (or a list of them)"
            )


def build_model(config: dict[str, Any], source: str = "model config") -> torch.nn.Module:
    """``create_model`` from a saved config (name + kwargs) with pretrained switches off, checked first."""
    from ..models import create_model

    clean = rebuild_config(config)
    check_model_config(clean, source)
    name = clean.pop("name")
    return create_model(name, **clean)


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


def load_state_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``backbones.load_strict`` with the hub's error type (the CLI prints it as one line)."""
    from ..backbones.weights import NonFiniteWeightsError, load_strict

    try:
        load_strict(model, state, source)
    except NonFiniteWeightsError as exc:
        raise CheckpointFormatError(str(exc)) from None
    except ValueError as exc:
        raise CheckpointFormatError(f"{exc}; is the model config right?") from None


def _first_line(exc: BaseException) -> str:
    """``Type: first line`` of an exception; torch raises some with an empty message."""
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """Tensors and the embedded model config (if any) of a ``.safetensors`` file."""
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
    for key in (CONFIG_METADATA_KEY, "model_config"):  # ours; "model_config" = files of the old engine writer
        if key in metadata:
            try:
                config = json.loads(metadata[key])
            except json.JSONDecodeError as exc:
                raise CheckpointFormatError(f"{path}: corrupt {key} metadata ({exc})") from exc
            break
    return state, config


def read_sidecar(path: str | os.PathLike) -> dict[str, Any] | None:
    """Model config from a ``<stem>.json`` or ``<file>.json`` sidecar (``{"model_config": {...}}``)."""
    path = Path(path)
    for candidate in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text())
            except json.JSONDecodeError as exc:
                raise CheckpointFormatError(f"{candidate}: invalid JSON ({exc})") from exc
            return config_from_json(data, candidate)
    return None


def config_from_json(data: Any, source: Any) -> dict[str, Any]:
    """Accept ``{"model_config": {...}}`` (ours) or a flat ``{"name": ..., ...}`` config."""
    if isinstance(data, dict) and isinstance(data.get("model_config"), dict):
        return data["model_config"]
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        return {k: v for k, v in data.items() if k not in {"dbdzoo_version", "task", "library_name"}}
    raise CheckpointFormatError(f"{source}: no model config (expected a 'model_config' object with a 'name')")


def read_torch_checkpoint(
    path: str | os.PathLike, ema: bool | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """Weights and model config of a torch checkpoint, refusing anything but plain tensors and containers.

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
    return normalise_state_dict(state), config
