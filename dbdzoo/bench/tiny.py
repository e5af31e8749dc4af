"""Per-model overrides that make each network tiny: CPU smoke runs of benchmarks, suites and experiments."""

from __future__ import annotations

from typing import Any

TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "fpn": {"backbone": "tiny_vgg", "decoder_channels": 8},
    "fpn_resnet10t": {"backbone": "tiny_vgg", "decoder_channels": 8},
    "fpn_resnet18": {"backbone": "tiny_vgg", "decoder_channels": 8},
    "defusionnet": {"backbone": "tiny_vgg", "side_channels": 16},
    "defusionnet_tpami": {"backbone": "tiny_vgg", "side_channels": 16},
    "cenet": {"backbone": "tiny_vgg", "detectors_per_group": 8},
    "br2net": {"backbone": "tiny_resnet"},
    "dmenet": {"backbone": "tiny_vgg"},
    "btbnet": {"backbone": "tiny_vgg", "backbone_kwargs": {"pools": False}},
    "btbcrl": {"backbone": "tiny_vgg", "backbone_kwargs": {"pools": False}},
}
# Objective options (the ``objective`` config group) that keep auxiliary networks tiny too.
TINY_OBJECTIVE_OVERRIDES: dict[str, dict[str, Any]] = {
    "dmenet": {
        "perceptual_backbone": "tiny_vgg",
        "perceptual_pretrained": False,
        "disc_widths": [8, 16, 16, 32],
    },
}


def tiny_overrides(name: str) -> dict[str, Any]:
    """``create_model`` overrides for a tiny ``name`` (never downloads); unknown models get the tiny VGG."""
    return {"pretrained_backbone": False, **TINY_OVERRIDES.get(name, {"backbone": "tiny_vgg"})}


def tiny_model_config(model_cfg: dict[str, Any]) -> dict[str, Any]:
    """A ``model`` config group made tiny (architecture only: objectives are their own group)."""
    return {**model_cfg, **tiny_overrides(model_cfg["name"])}


def tiny_objective_config(name: str, objective_cfg: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``objective`` group of model ``name`` (its paper objective when none is given) made tiny."""
    from ..losses import default_objective

    base = dict(objective_cfg) if objective_cfg else default_objective(name)
    return {**base, **TINY_OBJECTIVE_OVERRIDES.get(name, {})}
