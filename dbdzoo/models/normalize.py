"""Input normalisation presets that live inside the model (input contract: RGB in [0, 1] in, normalisation inside)."""

from __future__ import annotations

import torch
from torch import nn

# preset -> (mean, std, bgr, scale) applied as ((x[bgr] * scale) - mean) / std
NORM_PRESETS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], bool, float]] = {
    "imagenet_rgb": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), False, 1.0),
    "caffe_bgr": ((103.939, 116.779, 123.68), (1.0, 1.0, 1.0), True, 255.0),
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), False, 1.0),
}


class Normalize(nn.Module):
    """Map RGB in [0, 1] to what the backbone weights expect; buffers travel with the weights.

    The preset follows the *weights* (torchvision/timm ``tv_in1k`` → ``imagenet_rgb``; Caffe-converted
    VGG → ``caffe_bgr``), never the model name.
    """

    def __init__(self, preset: str = "imagenet_rgb") -> None:
        super().__init__()
        if preset not in NORM_PRESETS:
            raise ValueError(f"norm_preset={preset!r}; expected one of {', '.join(NORM_PRESETS)}")
        mean, std, bgr, scale = NORM_PRESETS[preset]
        self.preset = preset
        self.bgr = bgr
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) / scale, persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) / scale, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bgr:
            x = x.flip(1)
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"preset={self.preset!r}"
