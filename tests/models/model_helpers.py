"""Inputs and measurements shared by the model tests (a module: conftest cannot be imported by name)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def half_blurred_batch(n: int = 4, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random textures box-blurred (5×5) on the left or right half; mask = the blurred half (blur = 1)."""
    g = torch.Generator().manual_seed(seed)
    texture = torch.rand(n, 3, size, size, generator=g)
    blurred = F.avg_pool2d(F.pad(texture, (2, 2, 2, 2), mode="reflect"), 5, stride=1)
    cols = torch.arange(size).view(1, 1, 1, size)
    left = (torch.arange(n) % 2 == 1).view(n, 1, 1, 1)
    mask = (
        torch.where(left, cols < size // 2, cols >= size // 2).float().expand(n, 1, size, size).contiguous()
    )
    return {"image": texture * (1 - mask) + blurred * mask, "mask": mask}


def saved_activation_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd keeps for backward (unique storages, weights excluded)."""
    weights = {p.data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in weights:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(storages.values())
