"""DMENet's composite objective ("BDCS") with its domain discriminator as the adversary.

Reimplemented from the paper (model card docs/models/dmenet.md) and facts read in codeslake/DMENet ``main.py`` (AGPL; no
code copied). Generator loss = L_defocus + Σ L_aux + 1e-4·L_perc + 2e-2·L_binary + 1e-3·L_adv; the
discriminator labels **synthetic = 1, real = 0** on both sides, as the original does.

Each domain is a separate forward through the model, so BatchNorm sees per-domain batch statistics
(the original runs the shared decoder three times). Under DDP this means three forwards before one
backward: wrap with ``find_unused_parameters=False`` and ``static_graph=False`` (the defaults; every
parameter is used in every call) and prefer ``broadcast_buffers=False`` so rank 0 does not overwrite
running statistics between the three calls (``ddp_broadcast_buffers`` below). Concatenating the domains
would instead mix their BN statistics, which the original does not do.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..metrics.defocus import DMENET_SIGMA_UNITS, sigma_to_dmenet
from ..models.dmenet import DMENet
from .dmenet_training_parts import DomainDiscriminator, FrozenPerceptualNet, SharpnessCalibrationNet
from .objective import AdversarialObjective, ModelFn
from .registry import register_objective

POLARITIES = ("blur", "in_focus")


def tf_nearest_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest resize with TF1 ``align_corners=True`` sampling: src = round(dst · (in − 1) / (out − 1)).

    This is how the original shrinks the σ label for the auxiliary losses; it picks the first and the
    last row/column, unlike PyTorch's ``nearest`` (src = floor(dst · in / out)).
    """
    idx = []
    for n_in, n_out in zip(x.shape[-2:], size, strict=True):
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        idx.append(torch.floor(torch.arange(n_out, device=x.device) * scale + 0.5).long())
    return x.index_select(-2, idx[0]).index_select(-1, idx[1])


@contextmanager
def _frozen(module: nn.Module):
    """Let gradients flow *through* ``module`` without accumulating into its parameters."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def _bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits.float(), torch.full_like(logits.float(), label))


def _fill_invalid(target: torch.Tensor, pred: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Replace unlabelled pixels by the (detached) prediction so they add zero error."""
    if valid is None:
        return target
    return torch.where(valid.bool(), target, pred.detach())


class DMENetObjective(AdversarialObjective):
    """Generator loss over the three domains; ``adversary`` (the discriminator) has its own loss.

    ``batch = {"syn": {image, defocus (σ px), defocus_valid?}, "real": {image, mask}, "unlabelled":
    {image}}``; with ``pretrain=True`` only ``syn`` is needed and only L_defocus is used (the original
    ``--is_pretrain`` warm-up).

    Args:
        feat_channels: channels of ``extras["gan_feat"]`` (the ``dmenet_bdcs`` factory reads the network's).
        target_units: how σ becomes the target y: ``sigma7`` (σ/7) or ``coc15`` ((2σ + 1)/15).
        lambda_defocus, lambda_aux, lambda_perceptual, lambda_binary, lambda_adv: loss weights
            (original 1, 1 per aux map, 1e-4, 2e-2, 1e-3).
        real_binary_polarity: which class the calibration net predicts as 1 on real images (``blur`` =
            the canonical mask as loaded; ``in_focus`` = its complement).
        perceptual_backbone: VGG for the content loss (``vgg19``; ``tiny_vgg`` in tests).
        perceptual_pretrained: load its ImageNet weights (the original uses the encoder's VGG19 weights);
            off by default so that construction never downloads (the Hydra config turns it on).
        perceptual_weights: local weights file for it (offline); takes precedence over pretrained.
        perceptual_norm_preset: its input normalisation; ``None`` = what its weights expect.
        disc_widths: discriminator widths (original 64, 128, 256, 512).
        calib_widths: calibration-net widths, three 1×1 convs each (original 64, 32, 16).
        bn_affine_scale: learnable γ in the discriminator's and calibration net's BN (original: none).
        pretrain: MSE-only warm-up (no real/unlabelled domains, no adversary signal).
        adversary_first: the original's order — update D on this step's features first, then G against
            the updated D (``forward`` leaves the adversarial term out and ``generator_adversary_loss``
            adds it after the loop's D step). ``False``: G then D, both against D before the update.
    """

    ddp_broadcast_buffers = False  # three forwards per step: keep each rank's own BN running statistics

    def __init__(
        self,
        feat_channels: int = 64,
        target_units: str = "sigma7",
        lambda_defocus: float = 1.0,
        lambda_aux: float = 1.0,
        lambda_perceptual: float = 1e-4,
        lambda_binary: float = 2e-2,
        lambda_adv: float = 1e-3,
        real_binary_polarity: str = "blur",
        perceptual_backbone: str = "vgg19",
        perceptual_pretrained: bool = False,
        perceptual_weights: str | None = None,
        perceptual_norm_preset: str | None = None,
        disc_widths: tuple[int, ...] | list[int] = (64, 128, 256, 512),
        calib_widths: tuple[int, ...] | list[int] = (64, 32, 16),
        bn_affine_scale: bool = False,
        pretrain: bool = False,
        adversary_first: bool = True,
    ) -> None:
        super().__init__()
        self.adversary_first = adversary_first
        if real_binary_polarity not in POLARITIES:
            raise ValueError(
                f"real_binary_polarity={real_binary_polarity!r}; expected one of {', '.join(POLARITIES)}"
            )
        if target_units not in DMENET_SIGMA_UNITS:
            raise ValueError(
                f"target_units={target_units!r}; expected one of {', '.join(DMENET_SIGMA_UNITS)}"
            )
        self.target_units = target_units
        self.weights = {
            "defocus": lambda_defocus,
            "aux": lambda_aux,
            "perceptual": lambda_perceptual,
            "binary": lambda_binary,
            "adv": lambda_adv,
        }
        self.real_binary_polarity = real_binary_polarity
        self.pretrain = pretrain
        self.adversary = DomainDiscriminator(feat_channels, tuple(disc_widths), bn_affine_scale)
        self.calibration = SharpnessCalibrationNet(tuple(calib_widths), affine_scale=bn_affine_scale)
        perceptual = FrozenPerceptualNet(
            perceptual_backbone,
            perceptual_pretrained and perceptual_weights is None,
            perceptual_weights,
            perceptual_norm_preset,
        )
        self._perceptual = (perceptual,)  # a tuple hides it from parameters(), state_dict() and train()
        self._cached_feats: tuple[torch.Tensor, ...] | None = None
        self._generator_feats: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def perceptual(self) -> FrozenPerceptualNet:
        return self._perceptual[0]

    def _apply(self, fn, recurse: bool = True):
        # .to(device) / .float() must reach the hidden perceptual net too
        super()._apply(fn, recurse)
        self.perceptual._apply(fn, recurse)
        return self

    def generator_parameters(self) -> list[nn.Parameter]:
        """Objective-owned parameters trained with the model (the calibration net S), not the adversary."""
        return list(self.calibration.parameters())

    def forward(self, model: ModelFn, batch: dict) -> dict[str, torch.Tensor]:
        if "syn" not in batch:
            raise ValueError(
                "DMENetObjective expects batch = {'syn': ..., 'real': ..., 'unlabelled': ...}; configure "
                "data.domains (e.g. data=dmenet_domains)"
            )
        syn = batch["syn"]
        out_syn = model(syn["image"])
        y_syn = torch.sigmoid(out_syn.logits.float())
        target = _fill_invalid(
            sigma_to_dmenet(syn["defocus"].float(), self.target_units), y_syn, syn.get("defocus_valid")
        )
        w = self.weights
        defocus = F.mse_loss(y_syn, target)
        result = {"loss_defocus": defocus.detach()}
        loss = w["defocus"] * defocus
        if self.pretrain:
            # the aux heads join the graph with zero weight: DDP requires every parameter to get a gradient
            result["loss"] = loss + 0.0 * sum(a.float().sum() for a in out_syn.aux)
            return result

        aux = self._aux_loss(out_syn.aux, target, syn.get("defocus_valid"))
        perceptual = F.mse_loss(self.perceptual(y_syn), self.perceptual(target))

        real, unlabelled = batch["real"], batch["unlabelled"]
        out_real = model(real["image"])
        out_unl = model(unlabelled["image"])
        calib_logits = self.calibration(torch.sigmoid(out_real.logits.float()))
        mask = real["mask"].float()
        binary_target = mask if self.real_binary_polarity == "blur" else 1.0 - mask
        binary = F.binary_cross_entropy_with_logits(calib_logits, binary_target)

        f_syn, f_real, f_unl = (o.extras["gan_feat"] for o in (out_syn, out_real, out_unl))
        self._cached_feats = (f_syn.detach(), f_real.detach(), f_unl.detach())
        loss = loss + w["aux"] * aux + w["perceptual"] * perceptual + w["binary"] * binary
        result.update(loss_aux=aux.detach(), loss_perceptual=perceptual.detach(), loss_binary=binary.detach())
        if self.adversary_first:  # the loop steps D first, then adds generator_adversary_loss()
            self._generator_feats = (f_real, f_unl)
        else:
            adv = self._generator_adversarial_term(f_real, f_unl)
            loss = loss + w["adv"] * adv
            result["loss_adv"] = adv.detach()
        result["loss"] = loss
        return result

    def _generator_adversarial_term(self, f_real: torch.Tensor, f_unl: torch.Tensor) -> torch.Tensor:
        with _frozen(self.adversary):  # the generator pushes real features toward the synthetic label 1
            return 0.5 * (_bce(self.adversary(f_real), 1.0) + _bce(self.adversary(f_unl), 1.0))

    def generator_adversary_loss(self) -> torch.Tensor:
        """λ_adv · ½ [CE(D(f_real), 1) + CE(D(f_unlabelled), 1)] against the just-updated D (adversary_first)."""
        if self.pretrain:
            return torch.zeros((), device=next(self.adversary.parameters()).device)
        if self._generator_feats is None:
            raise RuntimeError("generator_adversary_loss() needs objective(model, batch) first")
        f_real, f_unl = self._generator_feats
        self._generator_feats = None
        return self.weights["adv"] * self._generator_adversarial_term(f_real, f_unl)

    def _aux_loss(
        self, aux: list[torch.Tensor], target: torch.Tensor, valid: torch.Tensor | None
    ) -> torch.Tensor:
        total = torch.zeros((), device=target.device)
        for side in aux:
            pred = torch.sigmoid(side.float())
            side_target = tf_nearest_resize(target, pred.shape[-2:])
            side_valid = None if valid is None else tf_nearest_resize(valid.float(), pred.shape[-2:])
            total = total + F.mse_loss(pred, _fill_invalid(side_target, pred, side_valid))
        return total

    def adversary_loss(self) -> torch.Tensor:
        """λ_adv · ½ [2·CE(D(f_syn), 1) + CE(D(f_real), 0) + CE(D(f_unlabelled), 0)] on cached features."""
        if self.pretrain:  # no adversarial stage: a zero that still reaches every D parameter
            return sum(p.sum() * 0.0 for p in self.adversary.parameters())
        if self._cached_feats is None:
            raise RuntimeError("adversary_loss() needs a generator forward first (objective(model, batch))")
        f_syn, f_real, f_unl = self._cached_feats
        d = self.adversary
        loss = 0.5 * (2.0 * _bce(d(f_syn), 1.0) + _bce(d(f_real), 0.0) + _bce(d(f_unl), 0.0))
        return self.weights["adv"] * loss


@register_objective("dmenet_bdcs", defaults_for={"dmenet": {}})
def dmenet_bdcs(model: nn.Module, **options) -> DMENetObjective:
    """DMENet's BDCS objective sized for ``model``: σ units, feature width and BN style follow the network."""
    if not isinstance(model, DMENet):
        raise ValueError(f"objective dmenet_bdcs trains a DMENet, got {type(model).__name__}")
    options.setdefault("target_units", model.sigma_units)
    options.setdefault("feat_channels", model.gan_channels)
    options.setdefault("bn_affine_scale", model.bn_affine_scale)
    return DMENetObjective(**options)
