"""Mixed precision, one switch (``trainer.precision``) for the training step, validation and evaluation."""

from __future__ import annotations

from contextlib import nullcontext

import torch


def autocast_context(device: torch.device, precision: str):
    """``torch.autocast`` for bf16/fp16, a no-op for fp32."""
    if precision == "fp32":
        return nullcontext()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        raise ValueError(f"trainer.precision={precision!r}; expected fp32, bf16 or fp16")
    return torch.autocast(device_type=device.type, dtype=dtype)
