"""Small building blocks shared by several networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNAct(nn.Sequential):
    """3×3 (or k×k) conv → optional BatchNorm → activation; the decoders' basic unit."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        *,
        norm: bool = True,
        act_layer: type[nn.Module] = nn.ReLU,
        padding_mode: str = "zeros",
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=not norm, padding_mode=padding_mode
            )
        ]
        if norm:
            layers.append(nn.BatchNorm2d(out_ch))
        layers.append(act_layer())
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Channel attention: global pool → 1×1 C→C/r → ReLU → 1×1 C/r→C → sigmoid → rescale."""

    def __init__(self, channels: int, reduction: int = 16, min_hidden: int = 1) -> None:
        super().__init__()
        hidden = max(channels // reduction, min_hidden)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.adaptive_avg_pool2d(x, 1)
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(w))))
        return x * w


def resize_to(x: torch.Tensor, ref: torch.Tensor | tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Resize ``x`` to the spatial size of ``ref`` (a tensor or an (H, W) pair); no-op if equal."""
    size = tuple(ref.shape[-2:]) if isinstance(ref, torch.Tensor) else tuple(ref)
    if tuple(x.shape[-2:]) == size:
        return x
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    return F.interpolate(x, size=size, mode=mode, align_corners=False)
