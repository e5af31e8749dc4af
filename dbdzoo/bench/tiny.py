"""Per-network overrides that make each model tiny: CPU smoke runs of benchmarks, suites and experiments."""

from __future__ import annotations

from typing import Any

#: by network class, so a variant (``fpn_resnet10t``, ``defusionnet_tpami``) needs no entry of its own:
#: its architecture facts stay in its factory and ``configs/model/<name>.yaml``
TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "FPN": {"backbone": "tiny_vgg", "decoder_channels": 8},
    "DeFusionNet": {"backbone": "tiny_vgg", "side_channels": 16},
    "CENet": {"backbone": "tiny_vgg", "detectors_per_group": 8},
    "BR2Net": {"backbone": "tiny_resnet"},
    "DMENet": {"backbone": "tiny_vgg"},
    "BTBNet": {"backbone": "tiny_vgg", "backbone_kwargs": {"pools": False}},
    "BTBCRL": {"backbone": "tiny_vgg", "backbone_kwargs": {"pools": False}},
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
    from ..models import MODELS
    from ..registry import returned_class

    network = returned_class(MODELS.get(name)) if name in MODELS else None
    tiny = TINY_OVERRIDES.get(network.__name__ if network is not None else "", {"backbone": "tiny_vgg"})
    return {"pretrained_backbone": False, **tiny}


def tiny_model_config(model_cfg: dict[str, Any]) -> dict[str, Any]:
    """A ``model`` config group made tiny (architecture only: objectives are their own group)."""
    return {**model_cfg, **tiny_overrides(model_cfg["name"])}


def tiny_objective_config(name: str, objective_cfg: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``objective`` group of model ``name`` (its paper objective when none is given) made tiny."""
    from ..losses import default_objective

    base = dict(objective_cfg) if objective_cfg else default_objective(name)
    return {**base, **TINY_OBJECTIVE_OVERRIDES.get(name, {})}
