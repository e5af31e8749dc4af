"""Mixed precision, one switch for the training step and validation (``trainer.precision``) and for
evaluation (eval's ``precision``)."""

from __future__ import annotations

from contextlib import nullcontext

import torch


def autocast_context(device: torch.device, precision: str, key: str = "trainer.precision"):
    """``torch.autocast`` for bf16/fp16, a no-op for fp32; ``key`` names the setting in the error."""
    if precision == "fp32":
        return nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        raise ValueError(f"{key}={precision!r}; expected fp32, bf16 or fp16")
    return torch.autocast(device_type=device.type, dtype=dtype)
