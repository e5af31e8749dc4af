"""``cenet`` (CVPR 2019): a cross-ensemble of 2 × 64 small defocus blur detectors.

W. Zhao, B. Zheng, Q. Lin, H. Lu, "Enhancing Diversity of Defocus Blur Detectors via Cross-Ensemble
Network". The official release is offline; the layer spec follows the same lab's later code
(wdzhao123/DENets, read for facts only), see the model card ``docs/models/cenet.md``.

Shared frozen FENet (VGG16 conv1_1 … relu2_2) → two branches, each its own copy of conv3_1 … relu5_3
(pools 2–4, no pool5) → 1×1 conv to K detectors + ReLU → 32×32 stride-16 transposed conv (no per-channel
bias, one scalar bias per branch) → sigmoid. Each of the 2·K sigmoid channels is one detector; the
prediction is their uniform mean. Diversity comes from the paper objective (``cross_ensemble``).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import VGGFeatures, create_backbone
from .base import DBDModel
from .output import ModelOutput
from .registry import register_model

_UPSAMPLE_MODES = ("deconv32s16", "bilinear")


class DetectorHead(nn.Module):
    """One group of detectors: 1×1 conv + ReLU, ×16 upsampling, one scalar bias, sigmoid.

    Args:
        in_channels: width of the branch output (512 for VGG16).
        detectors: K, detectors in this group.
        upsample: ``deconv32s16`` (lab code: transposed conv k32/s16/pad 8, bias-free) or ``bilinear``
            (a bias-free 1×1 K→K mix followed by bilinear resizing; the mix keeps the logits signed after
            the ReLU and commutes with the resize, so it runs at low resolution).
    """

    def __init__(self, in_channels: int, detectors: int, upsample: str) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, detectors, 1)
        if upsample == "deconv32s16":
            self.up: nn.Module = nn.ConvTranspose2d(
                detectors, detectors, 32, stride=16, padding=8, bias=False
            )
        else:
            self.up = nn.Conv2d(detectors, detectors, 1, bias=False)
        self.bilinear = upsample == "bilinear"
        self.bias = nn.Parameter(
            torch.zeros(1)
        )  # the lab's deconv bias has shape [1]: shared by all detectors
        for w in (self.reduce.weight, self.up.weight):  # lab init: truncated normal, std 0.01, bias 0
            nn.init.trunc_normal_(w, std=0.01, a=-0.02, b=0.02)
        nn.init.zeros_(self.reduce.bias)

    def forward(self, feat: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        z = self.up(F.relu(self.reduce(feat)))
        if self.bilinear:
            z = F.interpolate(z, size=size, mode="bilinear", align_corners=False)
        return torch.sigmoid(z + self.bias)


class CENet(DBDModel):
    """Cross-Ensemble Network; see the module docstring and ``docs/models/cenet.md``.

    Args:
        backbone: a VGG-layout registry backbone with five pooled blocks (``vgg16``; ``tiny_vgg`` in tests).
        pretrained_backbone: load ImageNet weights (Hydra configs set it; the code default never downloads).
        backbone_kwargs: extra backbone options (``weights=PATH`` for offline weights, ...).
        norm_preset: input normalisation; ``None`` = what the backbone's weights expect.
        detectors_per_group: K detectors per branch (2·K in total).
        freeze_fenet: keep conv1–conv2 fixed (lab code) and, should it hold norm layers, in eval mode.
        faithful_pool4_bug: reproduce the lab code's branch-2 pool4 reading branch 1's conv4_3 output.
        upsample: ``deconv32s16`` (faithful) or ``bilinear``.
        logit_eps: the mean detector probability is clamped to [eps, 1 − eps] before ``logit``.
    """

    native_positive = "in_focus"

    def __init__(
        self,
        backbone: str = "vgg16",
        pretrained_backbone: bool = False,
        backbone_kwargs: dict | None = None,
        norm_preset: str | None = None,
        detectors_per_group: int = 64,
        freeze_fenet: bool = True,
        faithful_pool4_bug: bool = False,
        upsample: str = "deconv32s16",
        logit_eps: float = 1e-6,
    ) -> None:
        if upsample not in _UPSAMPLE_MODES:
            raise ValueError(f"upsample={upsample!r}; expected one of {', '.join(_UPSAMPLE_MODES)}")
        enc = create_backbone(backbone, pretrained=pretrained_backbone, **(backbone_kwargs or {}))
        if not isinstance(enc, VGGFeatures) or len(enc.block_starts) != 5 or enc.strides[4] != 16:
            raise ValueError(
                f"CENet slices a VGG into blocks and needs five pooled blocks (stride 16 at block 5); "
                f"backbone {backbone!r} gives taps {enc.taps} at strides {enc.strides}. Use vgg16 or tiny_vgg."
            )
        super().__init__(norm_preset=norm_preset or enc.norm_preset, input_multiple=16)
        # FENet = blocks 1–2 (conv1_1 … relu2_2); pool2 opens each branch's conv3 stage (parameter-free).
        self.fenet = nn.Sequential(enc.block(0), enc.block(1))
        stages = nn.ModuleDict({"conv3": enc.block(2), "conv4": enc.block(3), "conv5": enc.block(4)})
        self.branches = nn.ModuleList(copy.deepcopy(stages) for _ in range(2))  # both start from ImageNet
        self.heads = nn.ModuleList(
            DetectorHead(enc.channels[4], detectors_per_group, upsample) for _ in range(2)
        )
        self.detectors_per_group = detectors_per_group
        self.freeze_fenet = freeze_fenet
        self.faithful_pool4_bug = faithful_pool4_bug
        self.logit_eps = logit_eps
        self.fenet.requires_grad_(not freeze_fenet)
        if faithful_pool4_bug:  # dead in the lab graph: no gradient ever reaches them (keeps DDP happy)
            self.branches[1]["conv3"].requires_grad_(False)
            self.branches[1]["conv4"].requires_grad_(False)

    def train(self, mode: bool = True) -> CENet:
        """Switch modes but keep a frozen FENet in eval (matters only if it holds norm layers)."""
        super().train(mode)
        if self.freeze_fenet:
            self.fenet.eval()
        return self

    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        size = (x.shape[-2], x.shape[-1])
        low = self.fenet(x)
        first, second = self.branches
        conv4_first = first["conv4"](first["conv3"](low))
        # Lab-code bug (opt-in): branch 2's pool4 reads branch 1's conv4_3; branch 2's conv3/conv4 are dead.
        conv4_second = conv4_first if self.faithful_pool4_bug else second["conv4"](second["conv3"](low))
        groups = [
            self.heads[0](first["conv5"](conv4_first), size),
            self.heads[1](second["conv5"](conv4_second), size),
        ]
        detectors = torch.cat(groups, dim=1)
        mean = detectors.float().mean(dim=1, keepdim=True)
        # The contract asks for a logit; logit(mean of sigmoids) ≠ mean of logits, so invert the mean.
        logits = torch.logit(mean, eps=self.logit_eps)
        return ModelOutput(logits=logits, aux=[], extras={"detectors": detectors})

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """ImageNet-initialised branch convs are ``backbone``; detector heads are ``head``."""
        groups: dict[str, list[nn.Parameter]] = {"backbone": [], "head": []}
        groups["backbone"] = [
            p for p in [*self.fenet.parameters(), *self.branches.parameters()] if p.requires_grad
        ]
        groups["head"] = [p for p in self.heads.parameters() if p.requires_grad]
        return groups


@register_model
def cenet(**kwargs) -> CENet:
    """CENet (CVPR 2019): frozen VGG16 conv1–2, two conv3–5 branches, 2 × 64 detectors averaged."""
    return CENet(**kwargs)
