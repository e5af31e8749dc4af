"""Rebuilding a network from a saved config and loading its weights strictly.

A saved config is ``build_model``'s arguments with ``name``. Rebuilding never downloads (every "load
pretrained backbone" switch is turned off: the saved weights replace the backbone's anyway), and a config
from elsewhere is checked before anything is allocated.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from .checkpoint import WeightsFile
from .errors import CheckpointFormatError

#: backbone options that would load backbone weights during construction.
_BACKBONE_WEIGHT_KEYS = ("weights", "pretrained", "pretrained_cfg_overlay", "checkpoint_path")
#: integer options that size the network: a config file from elsewhere must keep them in this range,
#: or ``decoder_channels=10**7`` allocates gigabytes (and ``-1`` fails deep inside torch) before any check
_SIZE_KEY = re.compile(r"(^|_)(channels|size|sizes|width)$")
_MAX_SIZE = 8192


def rebuild_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every "load pretrained backbone" switch turned off (rebuilding works offline)."""
    if not isinstance(config, dict) or not isinstance(config.get("name"), str):
        raise CheckpointFormatError(
            f"a model config needs a 'name' key naming a registered model, got {config!r}"
        )
    clean = dict(config)
    for key in list(clean):
        if key.startswith("pretrained"):
            clean[key] = False
    if isinstance(clean.get("backbone_kwargs"), dict):
        bk = {k: v for k, v in clean["backbone_kwargs"].items() if k not in _BACKBONE_WEIGHT_KEYS}
        clean["backbone_kwargs"] = bk or None
    return clean


def check_model_config(config: dict[str, Any], source: str = "model config") -> None:
    """Refuse an unknown model, unknown options or out-of-range sizes before anything is allocated."""
    from ..models import MODELS
    from ..registry import accepted_options, did_you_mean

    name = config.get("name")
    if name not in MODELS:
        raise CheckpointFormatError(
            f"{source}: model {name!r} is not registered (choose from {', '.join(MODELS.names())})"
        )
    accepted = accepted_options(MODELS.get(name))
    unknown = sorted(k for k in config if k != "name" and accepted is not None and k not in accepted)
    if unknown:
        hint = did_you_mean(unknown[0], accepted or ()) or f"; it takes {', '.join(sorted(accepted or ()))}"
        raise CheckpointFormatError(f"{source}: {name} has no option(s) {', '.join(unknown)}{hint}")
    for key, value in config.items():
        if not (isinstance(key, str) and _SIZE_KEY.search(key)) or value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= _MAX_SIZE for v in values):
            raise CheckpointFormatError(
                f"{source}: {key}={value!r}: expected an integer from 1 to {_MAX_SIZE} (or a list of them)"
            )


def model_from_config(config: dict[str, Any], source: str = "model config") -> torch.nn.Module:
    """``build_model`` from a saved config, pretrained switches off, checked first."""
    from ..models import build_model

    clean = rebuild_config(config)
    check_model_config(clean, source)
    return build_model(**clean)


def load_state_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``backbones.load_strict`` with the hub's error type (the CLI prints it as one line)."""
    from ..backbones.weights import NonFiniteWeightsError, load_strict

    try:
        load_strict(model, state, source)
    except NonFiniteWeightsError as exc:
        raise CheckpointFormatError(str(exc)) from None
    except ValueError as exc:
        raise CheckpointFormatError(f"{exc}; is the model config right?") from None


def model_from_weights(
    found: WeightsFile, source: str, name: str | None = None, overrides: dict[str, Any] | None = None
) -> torch.nn.Module:
    """The network a weights file describes (its config, else ``name``), loaded strictly, eval mode.

    ``overrides`` change or supply architecture options (for files that carry no config). The result has
    ``config`` (re-savable), ``working_max_side`` (the scale predict runs at) and ``load_source``.
    """
    config = found.config
    if config is None:
        if name is None:
            raise CheckpointFormatError(
                f"{source} carries no model config; name the architecture: "
                "load_model('<model name>', weights=...)"
            )
        config = {"name": name}
    elif name is not None and config.get("name") != name:
        raise CheckpointFormatError(f"{source} holds a {config.get('name')!r} model, not {name!r}")
    model = model_from_config({**config, **(overrides or {})}, source)
    load_state_strict(model, found.state, source)
    model.working_max_side = found.working_max_side
    model.load_source = source  # where the weights came from, for logs and reports
    return model.eval()
