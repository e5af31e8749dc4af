"""CENet's per-detector loss with cross- and self-negative correlation (lab code, exact; docs/models/cenet.md).

With G^a_i detector i of group a ∈ {1, 2}, M_a the *detached* per-pixel mean of group a and Y the target:

    L_1 = Σ_i [ ½·mean((G^1_i − Y)²) − λ_c·mean((G^1_i − M_2)²) − λ_s·mean((G^1_i − M_1)²) ]
    L_2 = Σ_i [ ½·mean((G^2_i − Y)²) − λ_c·mean((G^2_i − M_1)²) − λ_s·mean((G^2_i − M_2)²) ]

Every mean runs over all pixels of the batch. Both diversity terms are subtracted: pushing a detector
away from the ensemble means is rewarded (negative-correlation learning), bounded because detectors are
sigmoid outputs. The stop-gradient matters for the cross term: without it, group 2's loss would move
group 1's detectors through M_1.
"""

from __future__ import annotations

import torch
from torch import nn

from ..models.output import ModelOutput
from .objective import Objective
from .registry import register_objective

_UPDATES = ("joint",)


def _group_terms(group: torch.Tensor, target: torch.Tensor, own_mean: torch.Tensor, other_mean: torch.Tensor):
    """Σ over detectors of the three per-detector means: (error, distance to other, distance to own)."""
    pixels = group.shape[0] * group.shape[2] * group.shape[3]  # mean over pixels, then Σ over detectors
    error = (group - target).square().sum() / pixels
    cross = (group - other_mean).square().sum() / pixels
    self_ = (group - own_mean).square().sum() / pixels
    return error, cross, self_


def cross_ensemble_loss(
    detectors: torch.Tensor, target: torch.Tensor, lambda_cross: float = 0.01, lambda_self: float = 0.1
) -> dict[str, torch.Tensor]:
    """The two group losses and their logged components, in fp32.

    Args:
        detectors: B×(2·K)×H×W detector probabilities, group 1 first.
        target: B×1×H×W (or B×H×W) target in [0, 1], same polarity as the detectors.
        lambda_cross: weight λ_c of the distance to the other group's mean.
        lambda_self: weight λ_s of the distance to the own group's mean.

    Returns:
        ``loss`` = L_1 + L_2, plus ``loss_1``, ``loss_2`` and the summed ``loss_error``, ``loss_cross``,
        ``loss_self`` (positive distances, detached) for logging.
    """
    if detectors.shape[1] % 2:
        raise ValueError(f"expected two equal detector groups, got {detectors.shape[1]} channels")
    with torch.autocast(device_type=detectors.device.type, enabled=False):
        det = detectors.float()
        y = target.float()
        if y.ndim == 3:
            y = y.unsqueeze(1)
        first, second = det.chunk(2, dim=1)
        mean_first = first.mean(dim=1, keepdim=True).detach()
        mean_second = second.mean(dim=1, keepdim=True).detach()
        e1, c1, s1 = _group_terms(first, y, mean_first, mean_second)
        e2, c2, s2 = _group_terms(second, y, mean_second, mean_first)
        loss_1 = 0.5 * e1 - lambda_cross * c1 - lambda_self * s1
        loss_2 = 0.5 * e2 - lambda_cross * c2 - lambda_self * s2
    return {
        "loss": loss_1 + loss_2,
        "loss_1": loss_1.detach(),
        "loss_2": loss_2.detach(),
        "loss_error": (e1 + e2).detach(),
        "loss_cross": (c1 + c2).detach(),
        "loss_self": (s1 + s2).detach(),
    }


class CrossEnsembleLoss(Objective):
    """CENet's objective on ``output.extras["detectors"]`` against ``batch["mask"]``.

    Args:
        lambda_cross: λ_c, distance to the other group's detached mean (lab code: 0.01).
        lambda_self: λ_s, distance to the own group's detached mean (lab code: 0.1).
        update: ``joint`` = one optimiser on L_1 + L_2. The lab ran two Adam optimisers, one per group
            loss; with the pool4 bug fixed the branches share no trainable parameter, so the sum gives
            each branch exactly its own loss's gradient.
    """

    def __init__(self, lambda_cross: float = 0.01, lambda_self: float = 0.1, update: str = "joint") -> None:
        super().__init__()
        if update not in _UPDATES:
            raise ValueError(
                f"update={update!r}; only 'joint' is implemented (equal to the lab's two optimisers "
                "while the branches share no trainable parameters)"
            )
        self.lambda_cross, self.lambda_self, self.update = lambda_cross, lambda_self, update

    def criterion(self, output: ModelOutput, batch: dict) -> dict[str, torch.Tensor]:
        if "detectors" not in output.extras:
            raise KeyError("CrossEnsembleLoss needs output.extras['detectors'] (a CENet output)")
        return cross_ensemble_loss(
            output.extras["detectors"], batch["mask"], self.lambda_cross, self.lambda_self
        )


@register_objective("cross_ensemble", defaults_for={"cenet": {}})
def cross_ensemble(
    model: nn.Module, lambda_cross: float = 0.01, lambda_self: float = 0.1, update: str = "joint"
) -> CrossEnsembleLoss:
    """CENet's cross-ensemble loss (the network only has to expose ``extras["detectors"]``)."""
    return CrossEnsembleLoss(lambda_cross=lambda_cross, lambda_self=lambda_self, update=update)
