"""VGG feature extractors with torchvision/timm layer numbering.

Why not timm's ``features_only`` VGG: it asserts output stride 32, so the pool-free (BTBNet) and
replicate-padded (DMENet) variants cannot come from it, and it hides the layer sequence that CENet
slices into a shared stem and two branches. This module keeps ``features.N`` exactly as torchvision and
timm number it, so ``vgg16.tv_in1k`` / ``vgg19.tv_in1k`` weights load key for key, and a test checks the
taps against timm's own ``features_only`` model.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .base import Backbone
from .weights import hub_weights_file, load_strict, read_state_dict

# (convs per block, width) for the five VGG blocks.
VGG_CFGS: dict[str, list[tuple[int, int]]] = {
    "vgg16": [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)],
    "vgg19": [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)],
    "tiny_vgg": [(2, 8), (2, 16), (2, 16), (2, 32), (2, 32)],
}
HUB_IDS = {"vgg16": "timm/vgg16.tv_in1k", "vgg19": "timm/vgg19.tv_in1k"}


class VGGFeatures(Backbone):
    """VGG conv stack returning the last ReLU of each block (relu1_2 … relu5_3 for VGG16).

    Args:
        blocks: ``(convs, width)`` per block.
        pools: keep the 2×2 max-pools between blocks (``False`` = BTBNet's pool-free stack; the pool
            slots become ``nn.Identity`` so the layer numbering, and hence the weights, stay valid).
        pool5: also return the output of the fifth pool (stride 32) as an extra tap.
        dilations: per-block dilation (e.g. ``(1, 2, 4, 8, 16)`` to recover receptive field without pools).
        padding_mode: ``zeros`` (torchvision) or ``replicate`` (DMENet's 1-px symmetric pad).
        name: label used in taps and messages.
    """

    def __init__(
        self,
        blocks: list[tuple[int, int]],
        *,
        pools: bool = True,
        pool5: bool = False,
        dilations: tuple[int, ...] | None = None,
        padding_mode: str = "zeros",
        name: str = "vgg",
    ) -> None:
        super().__init__()
        if padding_mode not in {"zeros", "replicate", "reflect"}:
            raise ValueError(f"padding_mode={padding_mode!r}; expected one of zeros, replicate, reflect")
        dilations = dilations or (1,) * len(blocks)
        if len(dilations) != len(blocks):
            raise ValueError(
                f"dilations has {len(dilations)} entries; expected one per block ({len(blocks)})"
            )
        layers: list[nn.Module] = []
        self.tap_indices: list[int] = []
        self.block_starts: list[int] = []
        in_ch = 3
        for b, ((n_convs, width), dil) in enumerate(zip(blocks, dilations, strict=True)):
            if b > 0:
                layers.append(nn.MaxPool2d(2, 2) if pools else nn.Identity())
            self.block_starts.append(len(layers))
            for _ in range(n_convs):
                layers.append(
                    nn.Conv2d(in_ch, width, 3, padding=dil, dilation=dil, padding_mode=padding_mode)
                )
                layers.append(nn.ReLU(inplace=True))
                in_ch = width
            self.tap_indices.append(len(layers) - 1)
        self.pool5_index = len(layers)
        layers.append(nn.MaxPool2d(2, 2) if pool5 else nn.Identity())
        self.features = nn.Sequential(*layers)
        self.pool5 = pool5
        names = [f"relu{b + 1}_{n}" for b, (n, _) in enumerate(blocks)]
        self.taps = tuple(names + (["pool5"] if pool5 else []))
        widths = [w for _, w in blocks]
        self.channels = tuple(widths + ([widths[-1]] if pool5 else []))
        strides = [2**b if pools else 1 for b in range(len(blocks))]
        self.strides = tuple(strides + ([strides[-1] * 2] if pool5 else []))
        self.name = name

    def block(self, index: int) -> nn.Sequential:
        """Layers of block ``index`` including the pool that precedes it (a view sharing parameters)."""
        start = self.block_starts[index] - (1 if index > 0 else 0)
        return self.features[start : self.tap_indices[index] + 1]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats: list[torch.Tensor] = []
        taps = set(self.tap_indices)
        for i, layer in enumerate(self.features):
            if i == self.pool5_index and not self.pool5:
                break
            x = layer(x)
            if i in taps:
                feats.append(x)
        if self.pool5:
            feats.append(x)
        return feats

    def load_vgg_state_dict(self, state: dict[str, torch.Tensor], source: str) -> None:
        """Load a torchvision- or timm-layout VGG state dict, ignoring its classifier head."""
        feats = {k: v for k, v in state.items() if k.startswith("features.")}
        if not feats:
            raise ValueError(f"{source}: no 'features.*' keys; expected a torchvision/timm VGG state dict")
        load_strict(self, feats, source)


def build_vgg(
    name: str,
    *,
    pretrained: bool = False,
    weights: str | os.PathLike | None = None,
    **kwargs,
) -> VGGFeatures:
    """Build a VGG variant from ``VGG_CFGS`` and optionally load weights."""
    model = VGGFeatures(VGG_CFGS[name], name=name, **kwargs)
    if weights is not None:
        model.load_vgg_state_dict(read_state_dict(weights), str(weights))
    elif pretrained:
        if name not in HUB_IDS:
            raise ValueError(f"backbone {name!r} has no published weights; use pretrained=False")
        path = hub_weights_file(HUB_IDS[name])
        model.load_vgg_state_dict(read_state_dict(path), HUB_IDS[name])
    return model
