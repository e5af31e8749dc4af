"""``dmenet``: Deep Defocus Map Estimation network (Lee et al., CVPR 2019), the inference part "B".

Reimplemented from the paper (model card docs/models/dmenet.md) and facts read in the authors' AGPL code (codeslake/DMENet
``model.py``: ``VGG19_down``, ``UNet_up``); no code is copied. VGG19 encoder with replicate padding
(= the original 1-pixel symmetric pad), a U-Net decoder of conv + β-only BN + LeakyReLU(0.2), five
auxiliary heads, seven projection-shortcut residual blocks and a sigmoid head. The domain
discriminator, sharpness-calibration net and perceptual net are training-only and belong to its
objective (``dmenet_bdcs``), not to the network.

Output contract: ``logits`` is the logit of the normalised defocus map y ∈ [0, 1] (high = blurred),
``aux`` the five side maps' pre-sigmoid values (coarse to fine: 1/16 … 1), ``extras["gan_feat"]`` the
64-channel decoder feature the discriminator sees.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..backbones import create_backbone
from .base import DBDModel
from .dmenet_parts import ConvNormAct, batch_norm, init_dmenet_weights
from .output import ModelOutput
from .registry import register_model

UPSAMPLE_MODES = ("nearest", "bilinear")
SIGMA_UNITS = ("sigma7", "coc15")  # = metrics.defocus.DMENET_SIGMA_UNITS (kept light: no OpenCV)


class AuxHead(nn.Module):
    """conv 3×3 → BN → LReLU → conv 3×3 → 1 → BN; the original applies a sigmoid, we return its input."""

    def __init__(self, in_ch: int, hidden: int, padding_mode: str, affine_scale: bool) -> None:
        super().__init__()
        self.hidden = ConvNormAct(in_ch, hidden, padding_mode=padding_mode, affine_scale=affine_scale)
        self.out = nn.Conv2d(hidden, 1, 3, padding=1, padding_mode=padding_mode)
        self.out_norm = batch_norm(1, affine_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_norm(self.out(self.hidden(x)))


class ResidualBlock(nn.Module):
    """Projection shortcut (1×1 conv + BN + LReLU) plus two 3×3 conv + BN + LReLU, summed."""

    def __init__(self, ch: int, padding_mode: str, affine_scale: bool) -> None:
        super().__init__()
        self.shortcut = ConvNormAct(ch, ch, 1, padding_mode=padding_mode, affine_scale=affine_scale)
        self.body = nn.Sequential(
            ConvNormAct(ch, ch, padding_mode=padding_mode, affine_scale=affine_scale),
            ConvNormAct(ch, ch, padding_mode=padding_mode, affine_scale=affine_scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class DMENet(DBDModel):
    """VGG19 U-Net defocus-map estimator with deep supervision and residual refinement.

    Decoder widths follow the backbone: for VGG19 (64, 128, 256, 512, 512) the stages u3/u2/u1/u0 have
    256/128/64/64 channels, the auxiliary heads 256/128/64/32/32 hidden channels, refinement 64 and the
    head 64 → 32 → 1, as in the original; ``tiny_vgg`` scales them down for tests.

    Args:
        backbone: VGG-style registry name with five taps at strides 1…16 (``vgg19``; ``tiny_vgg``).
        pretrained_backbone: load ImageNet weights into the encoder (trainable, as in the original).
        backbone_kwargs: extra backbone options; ``padding_mode`` defaults to ``pad_mode``.
        norm_preset: input normalisation; ``None`` = the backbone's (``imagenet_rgb`` for tv_in1k
            weights; ``caffe_bgr`` is the original's, for Caffe-converted ``vgg19.npy`` weights).
        bn_affine_scale: give every BN a learnable γ; the original has none (TensorLayer
            ``gamma_init=None``), so the default ``False`` keeps β only.
        upsample: ``nearest`` (TensorLayer ``UpSampling2dLayer(method=1)``) or ``bilinear``.
        pad_mode: padding of the decoder convs (``replicate`` = the original symmetric 1-px pad).
        num_refine_blocks: residual blocks at full resolution (original 7).
        sigma_units: what y means, for ``sigma()`` and the training target: ``sigma7`` (y = σ/7) or
            ``coc15`` (y = CoC/15, the original SYNDOF labels and the released checkpoint).
    """

    task = "dme"

    @classmethod
    def sync_bn_supported(cls, config: dict) -> bool:
        """The original's shift-only BN (no γ) is not a ``BatchNorm2d``: SyncBN would drop its β."""
        return bool(config.get("bn_affine_scale", False))

    def __init__(
        self,
        backbone: str = "vgg19",
        pretrained_backbone: bool = False,
        backbone_kwargs: dict | None = None,
        norm_preset: str | None = None,
        bn_affine_scale: bool = False,
        upsample: str = "nearest",
        pad_mode: str = "replicate",
        num_refine_blocks: int = 7,
        sigma_units: str = "sigma7",
    ) -> None:
        if sigma_units not in SIGMA_UNITS:
            raise ValueError(f"sigma_units={sigma_units!r}; expected one of {', '.join(SIGMA_UNITS)}")
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample={upsample!r}; expected one of {', '.join(UPSAMPLE_MODES)}")
        kwargs = {"padding_mode": pad_mode, **(backbone_kwargs or {})}
        enc = create_backbone(backbone, pretrained=pretrained_backbone, **kwargs)
        if len(enc.channels) != 5 or tuple(enc.strides) != (1, 2, 4, 8, 16):
            raise ValueError(
                f"DMENet needs five VGG taps at strides 1, 2, 4, 8, 16 (no pool5); {backbone!r} gives "
                f"strides {tuple(enc.strides)}"
            )
        super().__init__(norm_preset=norm_preset or enc.norm_preset, input_multiple=16)
        self.backbone = enc
        self.upsample = upsample
        self.bn_affine_scale = bn_affine_scale
        self.sigma_units = sigma_units
        c = enc.channels
        opts = {"padding_mode": pad_mode, "affine_scale": bn_affine_scale}
        # u3, u2, u1 take concat(up(prev), d_level) and output the width of the next-shallower tap.
        stage_in = [c[4] + c[3], c[2] + c[2], c[1] + c[1]]
        stage_out = [c[2], c[1], c[0]]
        self.stages = nn.ModuleList(
            nn.Sequential(
                ConvNormAct(cin, cout, **opts),
                ConvNormAct(cout, cout, **opts),
                ConvNormAct(cout, cout, **opts),
            )
            for cin, cout in zip(stage_in, stage_out, strict=True)
        )
        self.full_res = ConvNormAct(c[0] + c[0], c[0], **opts)
        aux_in = [c[4], *stage_out, c[0]]
        self.aux_heads = nn.ModuleList(AuxHead(ch, ch // 2, pad_mode, bn_affine_scale) for ch in aux_in)
        self.refine = nn.ModuleList(
            ResidualBlock(c[0], pad_mode, bn_affine_scale) for _ in range(num_refine_blocks)
        )
        self.head = nn.Sequential(
            ConvNormAct(c[0], c[0], **opts),
            ConvNormAct(c[0], c[0] // 2, **opts),
            nn.Conv2d(c[0] // 2, 1, 3, padding=1, padding_mode=pad_mode),
        )
        self.gan_channels = c[0]
        decoder = nn.ModuleList([self.stages, self.full_res, self.aux_heads, self.refine, self.head])
        init_dmenet_weights(decoder, sigmoid_convs=(self.head[-1], *(h.out for h in self.aux_heads)))

    def _up(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        size = ref.shape[-2:]
        if self.upsample == "nearest":  # TF1 align-corners nearest equals this for exact ×2
            return F.interpolate(x, size=size, mode="nearest")
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)

    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        d = self.backbone(x)
        aux = [self.aux_heads[0](d[4])]
        n = d[4]
        for i, stage in enumerate(self.stages):
            skip = d[3 - i]
            n = stage(torch.cat([self._up(n, skip), skip], dim=1))
            aux.append(self.aux_heads[i + 1](n))
        gan_feat = self.full_res(torch.cat([self._up(n, d[0]), d[0]], dim=1))
        aux.append(self.aux_heads[4](gan_feat))
        n = gan_feat
        for block in self.refine:
            n = block(n)
        return ModelOutput(logits=self.head(n), aux=aux, extras={"gan_feat": gan_feat})

    def sigma(self, y: torch.Tensor) -> torch.Tensor:
        """Gaussian σ in pixels from the normalised map ``y = postprocess(logits)`` (evaluation uses this)."""
        from ..metrics.defocus import dmenet_to_sigma  # the one σ codec; late: metrics loads OpenCV

        return dmenet_to_sigma(y, self.sigma_units)


@register_model
def dmenet(**kwargs) -> DMENet:
    """DMENet (BDCS) on VGG19: ≈26.9M parameters for inference; objective with adversary for training."""
    return DMENet(**kwargs)
