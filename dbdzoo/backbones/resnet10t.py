"""timm's ResNet-10-T as a plain torch feature extractor, so inference never imports timm.

``import timm`` pulls in torchvision and ``torch._dynamo``: about 2.6 s and 400 MB before any work, more
than the whole of ``dbdzoo predict`` on a 24-megapixel photo should take. The released network sits on
this one small backbone, so it is written out here: the deep-tiered 3×3 stem (24/32/64), max-pool,
one BasicBlock per stage with average-pool shortcuts. Its modules, state-dict keys, seeded initialisation
and outputs are those of ``timm.create_model("resnet10t", features_only=True)`` (tests prove it), so
weights trained through timm load unchanged and seeded runs stay bit-identical.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import Backbone

STEM = (24, 32, 64)
WIDTHS = (64, 128, 256, 512)
TAPS = ("act1", "layer1", "layer2", "layer3", "layer4")
STRIDES = (2, 4, 8, 16, 32)
#: the classifier timm builds (and initialises, drawing random numbers) before features_only drops it
_TIMM_HEAD = (512, 1000)


class BasicBlock(nn.Module):
    """timm's BasicBlock: two 3×3 convs and a shortcut (average-pool + 1×1 conv when it changes shape)."""

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        y += shortcut
        return self.act2(y)


def _stage(inplanes: int, planes: int, stride: int) -> nn.Sequential:
    """One stage of one block; the shortcut is built first, as timm's ``make_blocks`` does (RNG order)."""
    down = None
    if stride != 1 or inplanes != planes:
        pool = (
            nn.AvgPool2d(2, stride, ceil_mode=True, count_include_pad=False) if stride != 1 else nn.Identity()
        )
        down = nn.Sequential(pool, nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes))
    return nn.Sequential(BasicBlock(inplanes, planes, stride, down))


class ResNet10TBody(nn.Module):
    """The modules of timm's ``resnet10t`` features, under timm's names (``conv1.0``, ``layer2.0.downsample.1``...).

    Stages after the deepest requested tap are dropped, as timm's ``FeatureListNet`` drops them.
    """

    def __init__(self, last_index: int = 4) -> None:
        super().__init__()
        s0, s1, s2 = STEM
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, s0, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(s0),
            nn.ReLU(inplace=True),
            nn.Conv2d(s0, s1, 3, padding=1, bias=False),
            nn.BatchNorm2d(s1),
            nn.ReLU(inplace=True),
            nn.Conv2d(s1, s2, 3, padding=1, bias=False),
        )
        self.bn1 = nn.BatchNorm2d(s2)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = s2
        for i, planes in enumerate(WIDTHS):
            self.add_module(f"layer{i + 1}", _stage(inplanes, planes, 1 if i == 0 else 2))
            inplanes = planes
        nn.Linear(*_TIMM_HEAD)  # drawn and discarded: keeps the random stream where timm leaves it
        for m in self.modules():  # timm ResNet.init_weights, zero_init_last included
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)
        for i in range(last_index + 1, 5):
            delattr(self, f"layer{i}")


class ResNet10TFeatures(Backbone):
    """ResNet-10-T feature maps at ``out_indices`` of act1 (stride 2), layer1…layer4 (strides 4–32).

    Args:
        out_indices: feature levels to return, as timm's (default: all five).
        stem_pool: max-pool the stride-2 stem tap to stride 4 (the ResNet papers' ``layer0``).
    """

    model_name = "resnet10t"

    def __init__(self, *, out_indices: tuple[int, ...] | None = None, stem_pool: bool = False) -> None:
        super().__init__()
        indices = tuple(range(5)) if out_indices is None else tuple(out_indices)
        if not supports(out_indices=indices):
            raise ValueError(f"resnet10t: out_indices={indices!r}: expected increasing levels from 0 to 4")
        self.indices = indices
        self.body = ResNet10TBody(max(indices))
        self.channels = tuple(((STEM[2],) + WIDTHS)[i] for i in indices)
        strides = [STRIDES[i] for i in indices]
        taps = [TAPS[i] for i in indices]
        self.stem_pool = stem_pool and strides[0] == 2
        if self.stem_pool:
            strides[0], taps[0] = 4, taps[0] + "+maxpool"
        self.strides, self.taps = tuple(strides), tuple(taps)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b = self.body
        x = b.act1(b.bn1(b.conv1(x)))
        feats = [x] if 0 in self.indices else []
        x = b.maxpool(x)
        if self.stem_pool:  # the stem tap after its max-pool: the tensor just computed
            feats[0] = x
        for i in range(1, max(self.indices) + 1):
            x = getattr(b, f"layer{i}")(x)
            if i in self.indices:
                feats.append(x)
        return feats


def supports(**options: object) -> bool:
    """Whether the native network builds exactly what ``TimmBackbone("resnet10t", **options)`` would.

    Weights (``pretrained``/``weights``) and any other timm option go through timm itself.
    """
    allowed = {"out_indices", "stem_pool", "pretrained", "weights"}
    if set(options) - allowed or options.get("pretrained") or options.get("weights") is not None:
        return False
    indices = options.get("out_indices")
    if indices is None:
        return True
    try:
        seq = [int(i) for i in indices]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return False
    return bool(seq) and all(0 <= i <= 4 for i in seq) and seq == sorted(set(seq))
