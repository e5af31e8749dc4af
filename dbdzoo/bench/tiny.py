"""Per-model overrides that make each network tiny: CPU smoke runs of benchmarks, suites and experiments."""

from __future__ import annotations

from typing import Any

TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "fpn": {"backbone": "tiny_vgg", "decoder_channels": 8},
}


def tiny_overrides(name: str) -> dict[str, Any]:
    """``create_model`` overrides for a tiny ``name``; unknown models fall back to the tiny VGG."""
    return dict(TINY_OVERRIDES.get(name, {"backbone": "tiny_vgg"}))
