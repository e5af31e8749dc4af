"""The backbone contract: a module that maps an image batch to a list of tapped feature maps."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn


class Backbone(nn.Module, ABC):
    """Base class for every backbone in the registry.

    Subclasses set ``channels``, ``strides`` and ``taps`` (one entry per returned feature map, shallow
    to deep) and ``norm_preset`` (the input normalisation their pretrained weights expect). Models read
    these instead of hard-coding widths, which is what makes backbones swappable.
    """

    channels: tuple[int, ...]
    strides: tuple[int, ...]
    taps: tuple[str, ...]
    norm_preset: str = "imagenet_rgb"

    @abstractmethod
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps, shallow to deep, one per entry of ``taps``."""

    @property
    def output_stride(self) -> int:
        """The coarsest stride; inputs must be a multiple of it."""
        return max(self.strides)

    def extra_repr(self) -> str:
        return f"taps={list(self.taps)}, channels={list(self.channels)}, strides={list(self.strides)}"
