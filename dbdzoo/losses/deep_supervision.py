"""Deep supervision over the main logit and every side output (BR2Net, BTBNet, DeFusionNet, FPN)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.output import ModelOutput
from .objective import Objective


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
                    side = F.interpolate(side, size=target.shape[-2:], mode="bilinear", align_corners=False)
                    side_target = target
                else:
                    side_target = F.adaptive_avg_pool2d(target.float(), side.shape[-2:])
            else:
                side_target = target
            aux_sum = aux_sum + w * _pixel_loss(self.kind, side, side_target)
        result["loss_aux"] = aux_sum.detach()
        result["loss"] = total + aux_sum
        return result
