"""``br2net``: Bidirectional channel-attention Residual Refining Network (Tang et al., IEEE TMM 2021).

Faithful to the authors' MIT-licensed ``ChangTang/BR2Net`` ``model.py`` (the ``CALayer`` version that
``train.py`` imports as ``model_CA``): ResNeXt-101 32×4d levels layer0…layer4, one squeeze-excitation
channel attention per level, a low-to-high residual stream at layer0 resolution and a high-to-low
residual stream at layer4 resolution, ten side logits and the fused logit ``(P_4 + Q_4) / 2``.
Module names differ from the official ones; ``dbdzoo.converters.br2net`` maps them.
"""

from __future__ import annotations

import torch
from torch import nn

from ..backbones import create_backbone
from .base import DBDModel
from .blocks import SqueezeExcite, resize_to
from .output import ModelOutput
from .registry import register_model

LAYER0_TAPS = ("maxpool", "stem")


def refinement_block(in_channels: int, width: int = 128) -> nn.Sequential:
    """The official ``predictL2H{k}`` / ``predictH2L{k}`` block: two 3×3 conv+BN+PReLU, then 1×1 → 1.

    Kept as a plain ``nn.Sequential`` so its indices (0 conv, 1 BN, 2 PReLU, 3 conv, 4 BN, 5 PReLU,
    6 conv) equal the official ones and checkpoints convert by renaming the prefix only.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.PReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.PReLU(),
        nn.Conv2d(width, 1, 1),
    )


class BR2Net(DBDModel):
    """Two residual refining streams over channel-attended backbone levels, fused by averaging logits.

    Low-to-high (at layer0 resolution, 1/4): ``P_0 = conv1×1(CA_0)``, ``P_k = R_k([P_{k-1}, up(CA_k)]) +
    P_{k-1}``. High-to-low (at layer4 resolution, 1/32): ``Q_0 = conv1×1(CA_4)``, ``Q_k = R_k([Q_{k-1},
    down(CA_{4-k})]) + Q_{k-1}``. Resizing is bilinear without anti-aliasing, as in the official code.

    Args:
        backbone: registry name with five levels (``resnext101_32x4d``; ``tiny_resnet`` in tests).
        pretrained_backbone: load the backbone's ImageNet weights (timm ``gluon_in1k`` for ResNeXt).
        backbone_kwargs: extra backbone options (``weights=PATH`` for offline weights, ...).
        norm_preset: input normalisation; ``None`` = what the backbone weights expect (``imagenet_rgb``).
        layer0_tap: ``maxpool`` = stem after the 3×3/2 max-pool (stride 4, the official ``layer0`` from
            R3Net's ResNeXt wrapper); ``stem`` = the stride-2 stem activation (BDRAR-style wrapper).
        se_reduction: channel-attention reduction (official ``CALayer(C, 16)``, so 4 hidden for layer0).
        refine_width: width of the refinement blocks (official 128).
        channel_attention: ``False`` gives the repository's earlier ``model.py`` without ``CALayer``.
    """

    def __init__(
        self,
        backbone: str = "resnext101_32x4d",
        pretrained_backbone: bool = False,
        backbone_kwargs: dict | None = None,
        norm_preset: str | None = None,
        layer0_tap: str = "maxpool",
        se_reduction: int = 16,
        refine_width: int = 128,
        channel_attention: bool = True,
    ) -> None:
        if layer0_tap not in LAYER0_TAPS:
            raise ValueError(f"layer0_tap={layer0_tap!r}; expected one of {', '.join(LAYER0_TAPS)}")
        kwargs = dict(backbone_kwargs or {})
        if layer0_tap == "stem":
            kwargs["stem_pool"] = False
        enc = create_backbone(backbone, pretrained=pretrained_backbone, **kwargs)
        if len(enc.channels) != 5:
            raise ValueError(
                f"BR2Net needs a backbone with five levels (layer0…layer4); {backbone!r} has {len(enc.channels)}"
            )
        # Every merge resizes to a reference tensor, so any input size works (the recipe trains on 300² crops,
        # the official inference runs at native CUHK/DUT/CTCUG sizes): no padding multiple.
        super().__init__(norm_preset=norm_preset or enc.norm_preset, input_multiple=1)
        self.backbone = enc
        c = enc.channels
        if channel_attention:
            self.attention = nn.ModuleList(SqueezeExcite(ch, se_reduction) for ch in c)
        else:
            self.attention = nn.ModuleList(nn.Identity() for _ in c)
        self.low_to_high = nn.ModuleList(
            [nn.Conv2d(c[0], 1, 1)] + [refinement_block(c[k] + 1, refine_width) for k in range(1, 5)]
        )
        self.high_to_low = nn.ModuleList(
            [nn.Conv2d(c[4], 1, 1)] + [refinement_block(c[4 - k] + 1, refine_width) for k in range(1, 5)]
        )

    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        feats = [ca(f) for ca, f in zip(self.attention, self.backbone(x), strict=True)]
        fine, coarse = feats[0], feats[-1]
        low_to_high = [self.low_to_high[0](fine)]
        for k in range(1, 5):
            prev = low_to_high[-1]
            step = self.low_to_high[k](torch.cat([prev, resize_to(feats[k], fine)], dim=1))
            low_to_high.append(step + prev)
        high_to_low = [self.high_to_low[0](coarse)]
        for k in range(1, 5):
            prev = high_to_low[-1]
            step = self.high_to_low[k](torch.cat([prev, resize_to(feats[4 - k], coarse)], dim=1))
            high_to_low.append(step + prev)
        # As the official code: upsample all ten maps to the input, then average the two last ones.
        # Straight into fp32 under bf16/fp16: they head for the fp32 loss (no 16-bit round trip).
        sides = [resize_to(s, x, float_output=True) for s in low_to_high + high_to_low]
        fused = (sides[4] + sides[9]) / 2
        return ModelOutput(logits=fused, aux=sides, extras={})


@register_model
def br2net(**kwargs) -> BR2Net:
    """BR2Net on ResNeXt-101 32×4d (≈50.6M parameters), trained with BCE on all eleven logits."""
    return BR2Net(**kwargs)
