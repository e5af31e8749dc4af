"""The one writer of dbdzoo weights files (``release.py`` is the tool that ships a trained run with it).

Every weights file dbdzoo writes (``save_pretrained``'s ``model.safetensors``, the training loop's
release, a shipped fp16 file) has one layout: every state-dict tensor under its own name, contiguous on
the CPU, and the model config as JSON under the metadata key ``dbdzoo_model_config``. fp16 halves the
file (the package carries every released weight, 30 MB at most in all); BatchNorm counters stay integers.
The scale the weights were trained at (``working_max_side``) travels under ``dbdzoo_working_max_side``.

EMA: the training loop releases the EMA weights when EMA is on, and ``load_model`` on a training
checkpoint prefers them too, so ``load_model("last.pt")`` and the released file hold the same network.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ..files import atomic_write
from .checkpoint import CONFIG_METADATA_KEY, WORKING_MAX_SIDE_KEY, working_max_side_of
from .errors import HubError

PRECISIONS = ("fp32", "fp16")


def release_state(model: torch.nn.Module, precision: str = "fp32") -> dict[str, torch.Tensor]:
    """The state dict as written: CPU, contiguous, shared tensors stored under every name, fp16 if asked."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}; expected one of {', '.join(PRECISIONS)}")
    state, seen = {}, set()
    for key, value in model.state_dict().items():
        t = value.detach().cpu()
        if precision == "fp16" and t.is_floating_point():
            t = t.half()
        ptr = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else None
        t = t.clone() if ptr in seen else t.contiguous()  # safetensors refuses shared storage
        if ptr is not None:
            seen.add(ptr)
        state[key] = t
    return state


def save_release(
    model: torch.nn.Module,
    model_config: dict[str, Any],
    path: str | os.PathLike,
    *,
    precision: str = "fp32",
    metadata: dict[str, Any] | None = None,
    sidecar: dict[str, Any] | None = None,
    working_max_side: int | None | str = "model",
) -> Path:
    """Write ``model``'s weights to ``path`` (``.safetensors``) atomically with ``model_config`` embedded.

    Args:
        model: the network to save (pass the EMA copy, ``ema.module``, when EMA is on).
        model_config: ``create_model`` arguments with ``name`` (``model.config``).
        precision: ``fp32`` or ``fp16`` (floating tensors only).
        metadata: extra string metadata (non-strings are stored as JSON).
        sidecar: also write ``<stem>.json`` = ``{"model_config": ..., **sidecar}`` (run information).
        working_max_side: long side (px) of the images the weights were trained at; ``"model"`` takes
            ``model.working_max_side`` (set when the model was loaded from weights that record it).

    Returns:
        ``path``.
    """
    from safetensors.torch import save_file

    from .. import __version__

    if not isinstance(model_config, dict) or not isinstance(model_config.get("name"), str):
        raise HubError(f"save_release needs a model config with a 'name', got {model_config!r}")
    if working_max_side == "model":
        working_max_side = getattr(model, "working_max_side", None)
    side = working_max_side_of(working_max_side, f"save_release({path})")
    config = dict(model_config)
    meta = {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in (metadata or {}).items()}
    meta.update({CONFIG_METADATA_KEY: json.dumps(config), "dbdzoo_version": __version__, "format": "pt"})
    if side is not None:
        meta[WORKING_MAX_SIDE_KEY] = str(side)
    state = release_state(model, precision)
    path = Path(path)
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=meta))
    if sidecar is not None:
        doc = {"model_config": config, **({"working_max_side": side} if side else {}), **sidecar}
        text = json.dumps(doc, indent=2, default=str) + "\n"
        atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text))
    return path
