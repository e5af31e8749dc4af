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


def resize_to(
    x: torch.Tensor,
    ref: torch.Tensor | tuple[int, int],
    mode: str = "bilinear",
    *,
    float_output: bool = False,
) -> torch.Tensor:
    """Resize ``x`` to the spatial size of ``ref`` (a tensor or an (H, W) pair); no-op if equal.

    A bf16/fp16 bilinear *upsampling* that autograd will differentiate runs in fp32 and is cast back:
    its CUDA backward scatters every output gradient with atomic adds, which are slow in 16-bit types and
    contend hard when a coarse map is upsampled many times (pytorch#140096; apex ran interpolation in
    fp32 for this reason). The forward values are the same (the 16-bit kernel computes in fp32 and
    rounds once); the gradient is summed in fp32 instead of bf16. fp32 inputs and inference take the
    plain path. ``float_output`` returns 16-bit results as fp32 (logits headed for an fp32 loss or
    sigmoid) without the round trip through 16 bits.
    """
    size = tuple(ref.shape[-2:]) if isinstance(ref, torch.Tensor) else tuple(ref)
    low = x.dtype in (torch.float16, torch.bfloat16)
    if tuple(x.shape[-2:]) == size:
        return x.float() if float_output and low else x
    if mode == "nearest":  # its backward gathers, no atomics
        out = F.interpolate(x, size=size, mode="nearest")
        return out.float() if float_output and low else out
    upsampling = size[0] * size[1] > x.shape[-2] * x.shape[-1]
    if low and (float_output or (upsampling and x.requires_grad and torch.is_grad_enabled())):
        out = F.interpolate(x.float(), size=size, mode=mode, align_corners=False)
        return out if float_output else out.to(x.dtype)
    return F.interpolate(x, size=size, mode=mode, align_corners=False)
