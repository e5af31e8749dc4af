"""``fpn``: a small feature-pyramid decoder on any registry backbone.

Not a paper model: the reference network built only from registry parts, used by the quickstart and
tests, and a fair modern baseline (an FPN decoder with deep supervision) for the published networks.
"""

from __future__ import annotations

import torch
from torch import nn

from ..backbones import create_backbone
from .base import DBDModel
from .blocks import ConvBNAct, resize_to
from .output import ModelOutput
from .registry import register_model


class FPN(DBDModel):
    """Backbone taps → 1×1 laterals → top-down sum → 3×3 smoothing → per-level heads + fused head.

    Args:
        backbone: registry name (``tiny_vgg``, ``vgg16``, ``resnet50``, ``timm:<name>``...).
        decoder_channels: width of the pyramid.
        pretrained_backbone: load the backbone's ImageNet weights (never in tests).
        backbone_kwargs: extra backbone options (``weights=PATH`` for offline weights, ...).
        deep_supervision: return one side logit per pyramid level in ``aux``.
        decoder_norm: BatchNorm in the decoder convs (off gives batch-size-independent results).
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        decoder_channels: int = 64,
        pretrained_backbone: bool = False,
        backbone_kwargs: dict | None = None,
        deep_supervision: bool = True,
        decoder_norm: bool = True,
    ) -> None:
        enc = create_backbone(backbone, pretrained=pretrained_backbone, **(backbone_kwargs or {}))
        super().__init__(norm_preset=enc.norm_preset, input_multiple=enc.output_stride)
        self.backbone = enc
        c = decoder_channels
        self.laterals = nn.ModuleList(nn.Conv2d(ch, c, 1) for ch in enc.channels)
        self.smooth = nn.ModuleList(ConvBNAct(c, c, norm=decoder_norm) for _ in enc.channels)
        self.side_heads = (
            nn.ModuleList(nn.Conv2d(c, 1, 1) for _ in enc.channels) if deep_supervision else None
        )
        self.fuse = nn.Sequential(ConvBNAct(c * len(enc.channels), c, norm=decoder_norm), nn.Conv2d(c, 1, 1))

    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        feats = self.backbone(x)
        top = self.laterals[-1](feats[-1])
        pyramid = [self.smooth[-1](top)]
        for i in range(len(feats) - 2, -1, -1):
            top = self.laterals[i](feats[i]) + resize_to(top, feats[i])
            pyramid.insert(0, self.smooth[i](top))
        finest = pyramid[0]
        fused = self.fuse(torch.cat([resize_to(p, finest) for p in pyramid], dim=1))
        logits = resize_to(fused, x, float_output=True)  # fp32 for the loss: no 16-bit round trip
        aux = [head(p) for head, p in zip(self.side_heads, pyramid, strict=True)] if self.side_heads else []
        return ModelOutput(logits=logits, aux=aux, extras={})


@register_model
def fpn(**kwargs) -> FPN:
    """FPN decoder (64 ch) with deep supervision on a ResNet-18 by default."""
    return FPN(**kwargs)


@register_model
def fpn_resnet18(**kwargs) -> FPN:
    """FPN (64 ch) on a ResNet-18, 11.6 M parameters: the reference the released fpn_resnet10t was chosen over.

    docs/models/fpn.md has the comparison; no weights are released for it.
    """
    kwargs.setdefault("backbone", "resnet18")
    kwargs.setdefault("decoder_channels", 64)
    return FPN(**kwargs)


@register_model
def fpn_resnet10t(**kwargs) -> FPN:
    """The released compact network: FPN (64 ch) on timm's ResNet-10-T, 5.28 M parameters, no ImageNet.

    timm's deep 3×3 stem; weights ``.synthetic`` and ``.cuhk`` (docs/models/fpn.md).
    """
    if "backbone" not in kwargs:
        kwargs["backbone"] = "timm:resnet10t"
        # taps at strides 4-32, as dbdzoo's resnet18: a stride-2 tap would run the decoder on 4x the pixels
        kwargs.setdefault("backbone_kwargs", {"out_indices": (1, 2, 3, 4)})
    kwargs.setdefault("decoder_channels", 64)
    return FPN(**kwargs)
