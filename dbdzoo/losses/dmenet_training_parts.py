"""DMENet's training-only networks: the domain discriminator, the sharpness-calibration net and the
frozen perceptual VGG.

Reimplemented from the paper (model card docs/models/dmenet.md) and the facts read in the authors' AGPL
code (codeslake/DMENet ``model.py``); no code is copied. Only the objective (``dbdzoo.losses.dmenet``)
uses them; the inference network (``dbdzoo.models.dmenet``) knows none of them. They reuse the network's
building blocks (β-only BN, conv + BN + LeakyReLU, TF ``SAME`` padding, the original initialisers).
"""

from __future__ import annotations

import torch
from torch import nn

from ..backbones import create_backbone
from ..models.dmenet_parts import ConvNormAct, init_dmenet_weights, tf_same_pad
from ..models.normalize import Normalize


class DomainDiscriminator(nn.Module):
    """Patch discriminator on the 64-channel decoder feature (the original ``feature_discriminator``).

    Four [conv 4×4/2 without bias → BN → LeakyReLU 0.2] with widths 64…512, then conv 4×4/2 → 1 (no
    bias, no sigmoid): a logit map at 1/32 of the feature size (8×8 for 240×240 crops).
    """

    def __init__(
        self,
        in_channels: int = 64,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        affine_scale: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = in_channels
        for w in widths:
            layers.append(
                ConvNormAct(ch, w, 4, stride=2, bias=False, padding_mode="zeros", affine_scale=affine_scale)
            )
            ch = w
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(ch, 1, 4, stride=2, bias=False)
        init_dmenet_weights(self, sigmoid_convs=(self.classifier,))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.classifier(tf_same_pad(self.body(feat), 4, 2))


class SharpnessCalibrationNet(nn.Module):
    """The original ``Binary_Net``: per-pixel MLP (1×1 convs) from the defocus map to a blur logit.

    Three triples of [1×1 conv (bias) → BN → LeakyReLU] with widths 64, 32, 16, then 1×1 conv → 1.
    """

    def __init__(
        self, widths: tuple[int, ...] = (64, 32, 16), repeats: int = 3, affine_scale: bool = False
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        ch = 1
        for w in widths:
            for _ in range(repeats):
                layers.append(ConvNormAct(ch, w, 1, affine_scale=affine_scale))
                ch = w
        self.body = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(ch, 1, 1)
        init_dmenet_weights(self, sigmoid_convs=(self.classifier,))

    def forward(self, defocus: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(defocus))


class FrozenPerceptualNet(nn.Module):
    """A VGG truncated after its fourth tap (relu4_4 for VGG19), frozen and always in eval mode.

    Its weights are the published ImageNet ones (or random in tests); ``DMENetObjective`` keeps it
    outside its module tree so it is in no optimiser and no state dict.
    """

    def __init__(self, backbone: str, pretrained: bool, weights: str | None, norm_preset: str | None) -> None:
        super().__init__()
        vgg = create_backbone(backbone, pretrained=pretrained, weights=weights, padding_mode="replicate")
        if not hasattr(vgg, "tap_indices") or len(vgg.tap_indices) < 4:
            raise ValueError(
                f"perceptual_backbone={backbone!r} must be a VGG-style backbone with four taps or more"
            )
        self.normalize = Normalize(norm_preset or vgg.norm_preset)
        self.features = vgg.features[: vgg.tap_indices[3] + 1]
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> FrozenPerceptualNet:
        return super().train(False)

    def forward(self, defocus: torch.Tensor) -> torch.Tensor:
        """relu4_4 of a 1-channel map replicated to RGB and normalised like an image (as the original)."""
        return self.features(self.normalize(defocus.expand(-1, 3, -1, -1)))
