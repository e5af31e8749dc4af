"""Per-model overrides that make each network tiny: CPU smoke runs of benchmarks, suites and experiments."""

from __future__ import annotations

from typing import Any

TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "fpn": {"backbone": "tiny_vgg", "decoder_channels": 8},
    "defusionnet": {"backbone": "tiny_vgg", "side_channels": 16},
    "defusionnet_tpami": {"backbone": "tiny_vgg", "side_channels": 16},
    "cenet": {"backbone": "tiny_vgg", "detectors_per_group": 8},
}


def tiny_overrides(name: str) -> dict[str, Any]:
    """``create_model`` overrides for a tiny ``name`` (never downloads); unknown models get the tiny VGG."""
    return {"pretrained_backbone": False, **TINY_OVERRIDES.get(name, {"backbone": "tiny_vgg"})}
