"""``defusionnet`` (CVPR 2019) and ``defusionnet_tpami`` (TPAMI 2022): recurrent cross-level fusion.

C. Tang et al., "DeFusionNET: Defocus Blur Detection via Recurrently Fusing and Refining Multi-scale
Deep Features". No official code is public, so the layer spec below is the project's reading of the
paper's abstract and reviews; every guess is a keyword here and is listed in the model cards
``docs/models/defusionnet*.md``.

Pipeline: six VGG16 levels (relu1_2 … relu5_3 plus an extra conv block after pool5) → 3×3 side
reduction to 64 channels → FSHF (fused shallow levels 1–3) and FSEF (fused deep levels 4–6) → FFRM:
for three recurrent steps every shallow level is refined with FSEF and every deep level with FSHF, then
FSHF/FSEF are recomputed → one 1×1 predictor per level at every step (18 side outputs) → fusion of the
last step's six maps. The TPAMI variant adapts the propagated feature (FAM) and re-weights channels
(CAM, squeeze-excitation) inside every refinement.
"""

from __future__ import annotations

import torch
from torch import nn

from ..backbones import create_backbone
from .base import DBDModel
from .blocks import ConvBNAct, SqueezeExcite, resize_to
from .output import ModelOutput
from .registry import register_model

#: Backbones whose registry factory accepts ``pool5=True`` (the stride-32 tap that feeds level 6).
_POOL5_BACKBONES = {"vgg16", "vgg19", "tiny_vgg"}
#: Levels 1–3 are "shallow" (FSHF); the rest are "deep" (FSEF).
_SHALLOW_LEVELS = 3


class CrossRefine(nn.Module):
    """g_i of one FFRM step at one level: refine a level feature with the other group's fused feature.

    Args:
        channels: width of level features and fused features.
        fam: ``conv2`` adapts the propagated feature first (TPAMI FAM); ``none`` = CVPR.
        cam: ``se`` re-weights the concatenation's channels (TPAMI CAM); ``none`` = CVPR.
        cam_reduction: squeeze-excitation reduction ratio r.
        bn: BatchNorm after each 3×3 conv.
        residual: return ``feat + g(...)`` (``True``) or ``g(...)`` alone.
    """

    def __init__(
        self, channels: int, fam: str, cam: str, cam_reduction: int, bn: bool, residual: bool
    ) -> None:
        super().__init__()
        c = channels
        # FAM: conv+ReLU then a linear conv, so the adapted guide may be negative like a residual.
        self.adapt = (
            nn.Sequential(ConvBNAct(c, c, norm=bn), nn.Conv2d(c, c, 3, padding=1)) if fam == "conv2" else None
        )
        self.attend = SqueezeExcite(2 * c, reduction=cam_reduction) if cam == "se" else None
        self.refine = nn.Sequential(ConvBNAct(2 * c, c, norm=bn), ConvBNAct(c, c, norm=bn))
        self.residual = residual

    def forward(self, feat: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        guide = resize_to(guide, feat)  # the adaptation works at the target level's resolution
        if self.adapt is not None:
            guide = self.adapt(guide)
        z = torch.cat([feat, guide], dim=1)
        if self.attend is not None:
            z = self.attend(z)
        out = self.refine(z)
        return feat + out if self.residual else out


class GroupFusion(nn.Module):
    """FSHF / FSEF: resize a group of level features to its first member's size, concat, 3×3 conv."""

    def __init__(self, channels: int, members: int, bn: bool) -> None:
        super().__init__()
        self.conv = ConvBNAct(channels * members, channels, norm=bn)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        ref = feats[0]
        return self.conv(torch.cat([resize_to(f, ref) for f in feats], dim=1))


class DeFusionNet(DBDModel):
    """DeFusionNet (CVPR) / DeFusionNet-TPAMI; see the module docstring and the model cards.

    Args:
        backbone: registry name; VGG-family names get ``pool5=True`` so level 6 starts at stride 32.
        pretrained_backbone: load ImageNet weights (Hydra configs set it; code default never downloads).
        backbone_kwargs: extra backbone options (``weights=PATH`` for offline weights, ...).
        norm_preset: input normalisation; ``None`` = what the backbone's weights expect.
        levels: 6 = five backbone taps + an extra block (3 shallow + 3 deep); 5 = no extra block.
        side_channels: width of the side reduction, FSHF/FSEF and the refinement convs.
        norm: ``none`` (VGG-era) or ``bn`` after every new 3×3 conv.
        steps: FFRM recurrent steps.
        ffrm_residual: refined level = F_i + g_i(...) rather than g_i(...).
        share_steps: one set of refinement and fusion weights for all steps (recurrent reading).
        fuse: ``conv1x1`` (learned 1×1 over the last step's maps, initialised to their mean) or ``mean``.
        fam: ``none`` (CVPR) or ``conv2`` (TPAMI feature adaptation module).
        cam: ``none`` (CVPR) or ``se`` (TPAMI channel attention module).
        cam_reduction: SE ratio r of the CAM.
    """

    def __init__(
        self,
        backbone: str = "vgg16",
        pretrained_backbone: bool = False,
        backbone_kwargs: dict | None = None,
        norm_preset: str | None = None,
        levels: int = 6,
        side_channels: int = 64,
        norm: str = "none",
        steps: int = 3,
        ffrm_residual: bool = True,
        share_steps: bool = True,
        fuse: str = "conv1x1",
        fam: str = "none",
        cam: str = "none",
        cam_reduction: int = 16,
    ) -> None:
        for key, value, allowed in (
            ("norm", norm, ("none", "bn")),
            ("fuse", fuse, ("conv1x1", "mean")),
            ("fam", fam, ("none", "conv2")),
            ("cam", cam, ("none", "se")),
        ):
            if value not in allowed:
                raise ValueError(f"{key}={value!r}; expected one of {', '.join(allowed)}")
        if steps < 1:
            raise ValueError(f"steps={steps}; DeFusionNet needs at least one FFRM step")
        kw = dict(backbone_kwargs or {})
        if backbone in _POOL5_BACKBONES and levels == 6:
            kw.setdefault("pool5", True)
        enc = create_backbone(backbone, pretrained=pretrained_backbone, **kw)
        has_pool5 = enc.taps[-1] == "pool5"
        base_channels = list(enc.channels[:-1] if has_pool5 else enc.channels)
        base_strides = list(enc.strides[:-1] if has_pool5 else enc.strides)
        if levels not in (len(base_channels), len(base_channels) + 1) or levels <= _SHALLOW_LEVELS:
            raise ValueError(
                f"levels={levels} with backbone {backbone!r} ({len(base_channels)} taps); use "
                f"{len(base_channels) + 1} (taps + extra block) or {len(base_channels)} (taps only)"
            )
        use_extra = levels == len(base_channels) + 1
        strides = base_strides + ([base_strides[-1] * 2] if use_extra else [])
        # Every merge resizes to a reference tensor and the output is resized to the input, so any size
        # works (BR2Net's recipe trains this stride-32 family on 300×300 crops): no padding multiple.
        super().__init__(norm_preset=norm_preset or enc.norm_preset, input_multiple=1)
        self.backbone = enc
        self.has_pool5, self.use_extra = has_pool5, use_extra
        self.levels, self.steps, self.share_steps, self.fuse_mode = levels, steps, share_steps, fuse
        self.level_strides = tuple(strides)
        bn, c, top = norm == "bn", side_channels, base_channels[-1]
        extra: list[nn.Module] = [] if has_pool5 else [nn.MaxPool2d(2, 2)]
        self.extra = (
            nn.Sequential(*extra, ConvBNAct(top, top, norm=bn), ConvBNAct(top, top, norm=bn))
            if use_extra
            else None
        )
        level_channels = base_channels + ([top] if use_extra else [])
        self.side = nn.ModuleList(ConvBNAct(ch, c, norm=bn) for ch in level_channels)
        n_deep = levels - _SHALLOW_LEVELS
        # Fusions are needed before every step (initial + after steps 1 … steps-1); none after the last.
        n_fusers = 1 if share_steps else steps
        self.fuse_shallow = nn.ModuleList(GroupFusion(c, _SHALLOW_LEVELS, bn) for _ in range(n_fusers))
        self.fuse_deep = nn.ModuleList(GroupFusion(c, n_deep, bn) for _ in range(n_fusers))
        self.refine = nn.ModuleList(
            nn.ModuleList(CrossRefine(c, fam, cam, cam_reduction, bn, ffrm_residual) for _ in range(levels))
            for _ in range(1 if share_steps else steps)
        )
        self.predictors = nn.ModuleList(nn.Conv2d(c, 1, 1) for _ in range(levels))  # shared across steps
        self.fusion = nn.Conv2d(levels, 1, 1) if fuse == "conv1x1" else None
        if self.fusion is not None:  # HED-style start: the fused map begins as the mean of the level maps
            nn.init.constant_(self.fusion.weight, 1.0 / levels)
            nn.init.zeros_(self.fusion.bias)

    def _level_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = self.backbone(x)
        base = list(taps[:-1]) if self.has_pool5 else list(taps)
        if self.extra is not None:
            base.append(self.extra(taps[-1]))  # pool5 tap, or the last tap pooled inside ``extra``
        return [side(t) for side, t in zip(self.side, base, strict=True)]

    def _fused(self, feats: list[torch.Tensor], step: int) -> tuple[torch.Tensor, torch.Tensor]:
        i = 0 if self.share_steps else step
        return self.fuse_shallow[i](feats[:_SHALLOW_LEVELS]), self.fuse_deep[i](feats[_SHALLOW_LEVELS:])

    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        feats = self._level_features(x)
        aux: list[torch.Tensor] = []
        maps: list[torch.Tensor] = []
        for step in range(self.steps):
            fshf, fsef = self._fused(feats, step)
            refiners = self.refine[0 if self.share_steps else step]
            feats = [
                refine(f, fsef if i < _SHALLOW_LEVELS else fshf)
                for i, (refine, f) in enumerate(zip(refiners, feats, strict=True))
            ]
            maps = [
                resize_to(pred(f), x, float_output=True)
                for pred, f in zip(self.predictors, feats, strict=True)
            ]
            aux.extend(maps)
        stacked = torch.cat(maps, dim=1)
        logits = self.fusion(stacked) if self.fusion is not None else stacked.mean(dim=1, keepdim=True)
        return ModelOutput(logits=logits, aux=aux, extras={})


@register_model
def defusionnet(**kwargs) -> DeFusionNet:
    """DeFusionNet (CVPR 2019): VGG16, 6 levels, FSHF/FSEF, 3 shared FFRM steps, 18 side outputs."""
    return DeFusionNet(**kwargs)


@register_model
def defusionnet_tpami(
    *, fam: str = "conv2", cam: str = "se", cam_reduction: int = 16, **kwargs
) -> DeFusionNet:
    """DeFusionNet-TPAMI (2022): the CVPR net plus FAM (``fam="conv2"``) and CAM (``cam="se"``, r = 16)."""
    return DeFusionNet(fam=fam, cam=cam, cam_reduction=cam_reduction, **kwargs)
