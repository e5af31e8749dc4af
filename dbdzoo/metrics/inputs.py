"""Input checks shared by the evaluators: map shapes, value ranges, and transposed predictions.

One place for them, so every evaluator refuses the same bad input with the same message (naming the
images) instead of scoring it: a NaN, a logit, an 8-bit mask or a map with H and W swapped would
otherwise give a plausible-looking number.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def as_maps(x: Tensor, what: str) -> Tensor:
    """``x`` as B x 1 x H x W (a B x H x W batch gains the channel); float64 stays, the rest is float32."""
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"{what} must be B x 1 x H x W or B x H x W, got {tuple(x.shape)}")
    return x if x.dtype == torch.float64 else x.float()


def image_labels(names: Sequence[str] | None, batch: int) -> list[str]:
    """The names to report for a batch: the given ones, or ``#i of this batch``."""
    if names is not None and len(names) != batch:
        raise ValueError(f"got {len(names)} names for a batch of {batch}")
    return list(names) if names is not None else [f"#{i} of this batch" for i in range(batch)]


def check_not_transposed(
    pred: Tensor, gt: Tensor, names: Sequence[str] | None, what: str = "prediction"
) -> None:
    """Refuse a non-square map whose H x W is the GT's W x H: resizing it would score garbage quietly."""
    ph, pw = pred.shape[-2:]
    gh, gw = gt.shape[-2:]
    if ph != pw and (ph, pw) == (gw, gh):
        labels = ", ".join(image_labels(names, len(pred)))
        raise ValueError(
            f"{what} is {ph}x{pw} (H x W) but the ground truth is {gh}x{gw}: the map looks transposed "
            f"(H and W swapped) for image(s): {labels}; save/return maps as H x W"
        )


def check_batch(pred: Tensor, gt: Tensor, names: Sequence[str] | None) -> None:
    """Fail loudly, naming the images, on transposed, non-finite or out-of-range maps."""
    labels = image_labels(names, len(pred))
    check_not_transposed(pred, gt, labels)

    def which(mask: Tensor) -> str:
        return ", ".join(labels[i] for i in mask.nonzero().flatten().tolist())

    lo, hi = torch.aminmax(pred.flatten(1), dim=1)  # NaN propagates, so one pass checks both
    bad = ~(torch.isfinite(lo) & torch.isfinite(hi))
    if bad.any():
        raise ValueError(f"prediction contains NaN/inf for image(s): {which(bad)}")
    out = (lo < 0) | (hi > 1)
    if out.any():
        raise ValueError(
            f"prediction outside [0, 1] for image(s): {which(out)}; pass sigmoid(logits), not logits"
        )
    glo, ghi = torch.aminmax(gt.flatten(1), dim=1)
    out = ~((glo >= 0) & (ghi <= 1))  # also catches NaN
    if out.any():
        raise ValueError(
            f"ground truth outside [0, 1] (or NaN) for image(s): {which(out)}; divide 8-bit masks by 255"
        )
