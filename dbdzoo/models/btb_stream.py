"""What BTBNet and BTBCRL share: one bottom-top-bottom stream per input scale.

A stream is a VGG16 forward pass with all pools removed (features stay at the stream's input size)
followed by a step-wise top-bottom feedback path: at step k the running top-down map and the
bottom-up block output B_{5-k} each get a 3×3 conv + ReLU and are summed (Zhao et al., CVPR 2018, as
read in the reviews; every width and count is a config option, see the model cards).
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Sequence
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..backbones import Backbone, create_backbone
from .base import DBDModel
from .blocks import resize_to

#: Dilations per VGG block for ``dilate_after_removed_pools`` (2/4/8/16 where pools 1-4 used to be).
REMOVED_POOL_DILATIONS = (1, 2, 4, 8, 16)


def derive_td_widths(channels: Sequence[int], td_steps: int) -> list[int]:
    """Top-bottom widths that mirror the bottom-top ones: [512, 256, 128, 64] for VGG16's B4…B1."""
    return [int(c) for c in channels[-2::-1][:td_steps]]


def conv_relu_stack(in_channels: int, width: int, depth: int) -> list[nn.Module]:
    """``depth`` × (conv3×3 → ``width`` + ReLU), the body of FNet, RRNet and CRLNet's blocks."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Conv2d(in_channels if i == 0 else width, width, 3, padding=1), nn.ReLU(inplace=True)]
    return layers


class TopBottomStep(nn.Module):
    """T_k = ReLU(conv3×3(T_{k-1})) + ReLU(conv3×3(B)): conv + ReLU on both inputs, then an element-wise sum.

    The top path is resized to the skip's size, a no-op on pool-free backbones; it lets pooled
    backbones (the non-faithful ``backbone=vgg16`` variant) work too.
    """

    def __init__(self, top_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.top = nn.Conv2d(top_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(skip_channels, out_channels, 3, padding=1)

    def forward(self, top: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return resize_to(F.relu(self.top(top)), skip) + F.relu(self.skip(skip))


class BTBStream(nn.Module):
    """One stream: backbone (bottom-top) → ``td_steps`` feedback steps (top-bottom) → 1×1 heads.

    Args:
        backbone: feature extractor returning B1…B5 shallow to deep (pool-free VGG16 by default).
        td_steps: number of top-bottom steps; step k merges with B_{n-k}.
        td_widths: output width of each step; ``None`` mirrors the backbone (VGG16: 512, 256, 128, 64).
        side_heads: also put a 1×1 conv → 1 after every step but the last (BTBCRL's S_1…S_3).

    Returns (forward):
        the side logits S_1…S_{steps-1} (if enabled) followed by the final stream logit D, each at
        the resolution of the feature it was read from (the stream's input size when pool-free).
    """

    def __init__(
        self,
        backbone: Backbone,
        td_steps: int = 4,
        td_widths: Sequence[int] | None = None,
        side_heads: bool = False,
    ) -> None:
        super().__init__()
        n = len(backbone.channels)
        if not 1 <= td_steps < n:
            raise ValueError(
                f"td_steps={td_steps}; a backbone with {n} taps allows 1…{n - 1} top-bottom steps"
            )
        widths = list(td_widths) if td_widths is not None else derive_td_widths(backbone.channels, td_steps)
        if len(widths) != td_steps:
            raise ValueError(
                f"td_widths has {len(widths)} entries; expected one per step (td_steps={td_steps})"
            )
        self.backbone = backbone
        tops = [backbone.channels[-1], *widths[:-1]]
        skips = [backbone.channels[n - 2 - k] for k in range(td_steps)]
        self.steps = nn.ModuleList(
            TopBottomStep(t, s, w) for t, s, w in zip(tops, skips, widths, strict=True)
        )
        self.side_heads = (
            nn.ModuleList(nn.Conv2d(w, 1, 1) for w in widths[:-1]) if side_heads else nn.ModuleList()
        )
        self.head = nn.Conv2d(widths[-1], 1, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.backbone(x)
        top = feats[-1]
        maps: list[torch.Tensor] = []
        for k, step in enumerate(self.steps):
            top = step(top, feats[-2 - k])
            if k < len(self.side_heads):
                maps.append(self.side_heads[k](top))
        maps.append(self.head(top))
        return maps


class MultiStreamDBD(DBDModel):
    """Base of BTBNet and BTBCRL: scaled inputs, one stream each, checkpointing, named training stages.

    Its arguments are the stream options both networks share, with the model cards' defaults (the one
    place they are listed); ``btbnet``/``btbcrl`` add their own and pass the rest through ``**kwargs``.
    The network declares its parts (``stages``, ``stage_modules``, ``output_roles``: a
    ``models.stages.StagedModel``); which stage trains is ``objective.stage``.

    Args:
        backbone: registry name; ``vgg16_poolfree`` is the paper's (``vgg16`` = pooled variant).
        pretrained_backbone: load ImageNet weights into every stream (never in tests).
        backbone_kwargs: extra backbone options (``weights=PATH``, ``pools`` for ``tiny_vgg``, ...).
        norm_preset: input normalisation; ``None`` follows the backbone's weights.
        scales: input scale of each stream; stream inputs are resized bilinearly (no antialias) to
            (round(s·H), round(s·W)), so any input size works.
        share_streams: one set of stream weights for all scales instead of one per scale.
        dilate_after_removed_pools: dilation 2/4/8/16 in blocks 2-5 (non-paper receptive-field fix).
        td_steps, td_widths: see ``BTBStream``; ``td_widths=None`` mirrors the backbone widths
            ([512, 256, 128, 64] on VGG16, the model cards' value).
        side_heads: side outputs after every top-bottom step but the last (BTBCRL's option; BTBNet has none).
        checkpoint_streams: recompute each stream in backward (``torch.utils.checkpoint``) to save memory.
    """

    native_positive = "in_focus"
    stages: tuple[str, ...] = ("joint",)

    def __init__(
        self,
        *,
        backbone: str = "vgg16_poolfree",
        pretrained_backbone: bool = False,
        backbone_kwargs: dict | None = None,
        norm_preset: str | None = None,
        scales: Sequence[float] = (1.0, 0.8, 0.6),
        share_streams: bool = False,
        dilate_after_removed_pools: bool = False,
        td_steps: int = 4,
        td_widths: Sequence[int] | None = None,
        side_heads: bool = False,
        checkpoint_streams: bool = False,
    ) -> None:
        kw = dict(backbone_kwargs or {})
        if dilate_after_removed_pools:
            kw.update(
                {"dilate": True} if backbone == "vgg16_poolfree" else {"dilations": REMOVED_POOL_DILATIONS}
            )
        first = create_backbone(backbone, pretrained=pretrained_backbone, **kw)
        pool_free = all(s == 1 for s in first.strides)
        super().__init__(
            norm_preset=norm_preset or first.norm_preset,
            input_multiple=1 if pool_free else first.output_stride,
        )
        if not scales or any(float(s) <= 0 for s in scales):
            raise ValueError(
                f"scales={list(scales)}; give at least one positive input scale, e.g. [1.0, 0.8, 0.6]"
            )
        self.scales = tuple(float(s) for s in scales)
        self.checkpoint_streams = checkpoint_streams
        # Loaded weights are copied so every stream starts from ImageNet; random backbones are re-drawn.
        loaded = pretrained_backbone or kw.get("weights") is not None
        backbones = [first]
        for _ in range(0 if share_streams else len(self.scales) - 1):
            backbones.append(
                copy.deepcopy(first) if loaded else create_backbone(backbone, pretrained=False, **kw)
            )
        self.streams = nn.ModuleList(BTBStream(b, td_steps, td_widths, side_heads) for b in backbones)

    # -- forward helpers --------------------------------------------------------------------------
    def scaled_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The (normalised) input resized to every stream's scale; scale 1.0 passes through."""
        h, w = x.shape[-2:]
        out = []
        for s in self.scales:
            if s == 1.0:
                out.append(x)
                continue
            # round half up in integer arithmetic: stays symbolic, so ONNX/torch.export keep H and W dynamic
            num, den = Fraction(s).limit_denominator(1000).as_integer_ratio()
            size = (max(1, (2 * h * num + den) // (2 * den)), max(1, (2 * w * num + den) // (2 * den)))
            out.append(resize_to(x, size))  # bilinear, no antialias
        return out

    def run_streams(self, inputs: list[torch.Tensor]) -> list[list[torch.Tensor]]:
        """Each stream's logits (side maps then final map), checkpointed when asked and training."""
        use_ckpt = self.checkpoint_streams and self.training and torch.is_grad_enabled()
        outs = []
        for i, xs in enumerate(inputs):
            stream = self.streams[min(i, len(self.streams) - 1)]
            outs.append(checkpoint(stream, xs, use_reentrant=False) if use_ckpt else stream(xs))
        return outs

    # -- training stages (structure only; the objective picks one) ------------------------------
    @abstractmethod
    def output_roles(self) -> tuple[str, list[str]]:
        """Stage name of the main output and of each ``aux`` entry, in order."""

    @abstractmethod
    def stage_modules(self) -> dict[str, list[nn.Module]]:
        """Modules trained in each non-joint stage."""

    @property
    def backbone(self) -> nn.ModuleList:
        """The VGG stacks of all streams, so optimisers find them (lr × ``backbone_lr_mult``).

        A fresh view on every access, not a registered child: the weights keep one name in the state dict.
        """
        return nn.ModuleList(s.backbone for s in self.streams)
