"""Deep supervision over the main logit and every side output (BR2Net, BTBNet, BTBCRL, DeFusionNet, FPN).

For networks with a staged schedule (``models.stages.StagedModel``) ``stage`` picks the part that
trains: the objective freezes the other parts (``requires_grad=False``, so the optimiser never sees
them) and gives the outputs outside the stage weight 0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.blocks import resize_to
from ..models.output import ModelOutput
from ..models.stages import StagedModel
from .objective import Objective
from .registry import register_objective


def _pixel_loss(kind: str, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # Losses run in fp32 even under autocast: log-probabilities underflow in fp16.
    logits, target = logits.float(), target.float()
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if kind == "mse":  # the Zhao lab's ½·MSE on sigmoid outputs
        return 0.5 * F.mse_loss(torch.sigmoid(logits), target)
    raise ValueError(f"loss kind {kind!r}; expected 'bce' or 'mse'")


class DeepSupervisionLoss(Objective):
    """Sum of a per-pixel loss on ``logits`` and on each ``aux`` map, against ``batch["mask"]``.

    Args:
        kind: ``bce`` (sigmoid cross-entropy on logits) or ``mse`` (½·MSE on sigmoid outputs).
        main_weight: weight of the main output.
        aux_weights: one weight for all side outputs, or one per side output.
        aux_resize: ``logits`` upsamples side logits bilinearly to the target (BR2Net, HED style);
            ``target`` resizes the target to each side map instead (area average, so it stays soft).
    """

    def __init__(
        self,
        kind: str = "bce",
        main_weight: float = 1.0,
        aux_weights: float | list[float] = 1.0,
        aux_resize: str = "logits",
    ) -> None:
        super().__init__()
        if aux_resize not in {"logits", "target"}:
            raise ValueError(f"aux_resize={aux_resize!r}; expected 'logits' or 'target'")
        _pixel_loss(kind, torch.zeros(1), torch.zeros(1))  # validate kind at construction
        self.kind, self.main_weight, self.aux_weights, self.aux_resize = (
            kind,
            main_weight,
            aux_weights,
            aux_resize,
        )

    def criterion(self, output: ModelOutput, batch: dict) -> dict[str, torch.Tensor]:
        target = batch["mask"]
        weights = self.aux_weights
        if isinstance(weights, (int, float)):
            weights = [float(weights)] * len(output.aux)
        if len(weights) != len(output.aux):
            raise ValueError(
                f"aux_weights has {len(weights)} entries but the model returns {len(output.aux)} side outputs"
            )
        main = _pixel_loss(self.kind, output.logits, target)
        total = self.main_weight * main
        result = {"loss_main": main.detach()}
        aux_sum = torch.zeros((), device=main.device)
        for w, side in zip(weights, output.aux, strict=True):
            if side.shape[-2:] != target.shape[-2:]:
                if self.aux_resize == "logits":
                    # bilinear as before, in fp32: the loss casts to fp32 anyway, and a 16-bit upsampling
                    # backward is slow on CUDA (see resize_to)
                    side = resize_to(side, target, float_output=True)
                    side_target = target
                else:
                    side_target = F.adaptive_avg_pool2d(target.float(), side.shape[-2:])
            else:
                side_target = target
            aux_sum = aux_sum + w * _pixel_loss(self.kind, side, side_target)
        result["loss_aux"] = aux_sum.detach()
        result["loss"] = total + aux_sum
        return result


def _staged_weights(
    model: StagedModel, stage: str, main_weight: float, aux_weights: float | list[float]
) -> tuple[float, list[float]]:
    """Output weights with the outputs outside ``stage`` zeroed (all kept for ``joint``)."""
    main_role, aux_roles = model.output_roles()
    if isinstance(aux_weights, (int, float)):
        aux_weights = [float(aux_weights)] * len(aux_roles)
    if len(aux_weights) != len(aux_roles):
        raise ValueError(
            f"objective.aux_weights has {len(aux_weights)} entries; this model has {len(aux_roles)} side outputs"
        )

    def keep(role: str) -> float:
        return 1.0 if stage in ("joint", role) else 0.0

    return main_weight * keep(main_role), [w * keep(r) for w, r in zip(aux_weights, aux_roles, strict=True)]


def freeze_outside_stage(model: StagedModel, stage: str) -> None:
    """Freeze every part outside ``stage`` (no-op for ``joint``), before the optimiser is built."""
    if stage == "joint":
        return
    for name, modules in model.stage_modules().items():
        for module in modules:
            module.requires_grad_(name == stage)


@register_objective(
    "deep_supervision",
    defaults_for={
        "br2net": {},
        "btbnet": {},
        "btbcrl": {"aux_resize": "target"},
        "defusionnet": {},
        "defusionnet_tpami": {},
    },  # the fpn variants are no paper models: they train with the fallback, FALLBACK_OBJECTIVE
)
def deep_supervision(
    model: nn.Module,
    kind: str = "bce",
    main_weight: float = 1.0,
    aux_weights: float | list[float] = 1.0,
    aux_resize: str = "logits",
    stage: str = "joint",
) -> DeepSupervisionLoss:
    """``DeepSupervisionLoss`` for ``model``; ``stage`` (staged networks only) trains one part.

    Building it with a stage other than ``joint`` sets ``requires_grad=False`` on the model's other
    parts, so build the objective before the optimiser (``engine.builders.build_model_and_objective``).
    """
    if isinstance(model, StagedModel):
        if stage not in model.stages:
            raise ValueError(f"objective.stage={stage!r}; expected one of {', '.join(model.stages)}")
        main_weight, aux_weights = _staged_weights(model, stage, main_weight, aux_weights)
        freeze_outside_stage(model, stage)
    elif stage != "joint":
        raise ValueError(
            f"objective.stage={stage!r}: {type(model).__name__} has no training stages; use stage=joint"
        )
    return DeepSupervisionLoss(
        kind=kind, main_weight=main_weight, aux_weights=aux_weights, aux_resize=aux_resize
    )
