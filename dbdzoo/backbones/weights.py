"""Loading backbone weights: timm's published files through the Hugging Face cache, or local files.

Construction never touches the network. ``pretrained=True`` resolves a file in the local Hugging Face
cache first and only then asks the Hub; without a network it fails at once with instructions for the
offline paths, instead of hanging or falling back to random weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file

OFFLINE_HELP = (
    "To use pretrained weights offline: (1) pre-seed the Hugging Face cache on a connected machine "
    "(`hf download {repo} model.safetensors`) and copy $HF_HOME, or (2) load a local state dict of the timm "
    "model: weights=<path to a .safetensors/.pth file> in Python, 'model.backbone_kwargs={{weights: <path>}}' on "
    "the train.py command line, or (3) start from random weights: model.pretrained_backbone=false on the "
    "command line (pretrained=False in Python)."
)


class PretrainedWeightsUnavailable(RuntimeError):
    """Raised when ``pretrained=True`` cannot find or download the published weights."""


class NonFiniteWeightsError(ValueError):
    """A weights file holds NaN or ±inf values: a diverged run or a corrupt export, never usable weights."""


def check_finite(state: dict[str, torch.Tensor], source: str) -> None:
    """Refuse ``state`` if a floating-point tensor holds NaN or ±inf, naming the first such key.

    ``x * 0`` is 0 for finite ``x`` and NaN for NaN or ±inf, so one multiply-and-sum per tensor decides
    (4–10× cheaper than ``isfinite().all()``, which was most of loading the released weights); the
    counts for the message are taken only for a tensor that fails.
    """
    for key, t in state.items():
        if not (t.is_floating_point() or t.is_complex()) or bool(t.detach().mul(0).sum() == 0):
            continue
        n_nan, n_inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())  # x * 0 != 0: NaN or ±inf
        raise NonFiniteWeightsError(
            f"{source}: tensor {key!r} holds {n_nan} NaN and {n_inf} inf of {t.numel()} values; "
            "refusing non-finite weights (a diverged run or a corrupt file)"
        )


def hub_weights_file(repo_id: str, filename: str = "model.safetensors") -> Path:
    """Path of a timm weights file from the local HF cache, downloading it only if the Hub is reachable."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, filename)
    if isinstance(cached, str) and os.path.isfile(cached):
        return Path(cached)
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}:
        raise PretrainedWeightsUnavailable(
            f"pretrained weights {repo_id}/{filename} are not in the local cache and HF_HUB_OFFLINE is set. "
            + OFFLINE_HELP.format(repo=repo_id)
        )
    try:
        return Path(hf_hub_download(repo_id, filename, etag_timeout=5))
    except Exception as exc:  # network errors come in many types across huggingface_hub versions
        raise PretrainedWeightsUnavailable(
            f"could not download pretrained weights {repo_id}/{filename} ({type(exc).__name__}: {exc}). "
            + OFFLINE_HELP.format(repo=repo_id)
        ) from exc


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a tensors-only ``.pth`` (never unpickles objects)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"{path}: not a tensors-only checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "dbdzoo loads .pth files with weights_only=True and refuses arbitrary pickled objects"
        ) from exc
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a dict of tensors (a state dict), got {type(state).__name__}")
    return state


def load_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module`` and refuse partial or mis-shaped weights with a readable report.

    Keys that alias another key's tensor in ``module`` (tied weights, which safetensors stores once) count
    as present when their partner is. Raises ``ValueError`` naming the missing, unexpected and
    mis-shaped keys, and ``NonFiniteWeightsError`` for NaN/inf values (checked after the keys).
    """
    own = module.state_dict()
    by_storage: dict[tuple[int, int], set[str]] = {}
    for key, t in own.items():
        by_storage.setdefault((t.untyped_storage().data_ptr(), t.storage_offset()), set()).add(key)
    covered = set(state)
    for names in by_storage.values():
        if len(names) > 1 and names & covered:
            covered |= names
    missing = sorted(set(own) - covered)
    unexpected = sorted(set(state) - set(own))
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if own[k].shape != state[k].shape
    ]
    if missing or unexpected or mismatched:

        def show(items: list[str]) -> str:
            return ", ".join(items[:8]) + (f" … (+{len(items) - 8} more)" if len(items) > 8 else "")

        parts = [f"{source} does not match {type(module).__name__}:"]
        if missing:
            parts.append(f"{len(missing)} missing keys [{show(missing)}]")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys [{show(unexpected)}]")
        if mismatched:
            parts.append(f"{len(mismatched)} shape mismatches [{show(mismatched)}]")
        raise ValueError(" ".join(parts) + "; refusing to load partial weights")
    check_finite(state, source)
    module.load_state_dict(state, strict=False)  # strict check done above (tied aliases are allowed)
