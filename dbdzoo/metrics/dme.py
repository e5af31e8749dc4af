"""Defocus-map (sigma) metrics: DMENet's RTF and SYNDOF protocols, streaming over images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from dbdzoo.metrics.defocus import RTF_SIGMA_MAX, SYNDOF_SIGMA_MAX
from dbdzoo.metrics.inputs import check_not_transposed, image_labels


class DMEEvaluator:
    """Per-image MSE and MAE of normalised sigma maps, averaged over images.

    ``rtf`` (codeslake/DMENet ``quantitative_RTF.m``): both maps clipped to [0, 3.275] px and divided
    by 3.275, cropped to their common top-left size. ``syndof``: both maps clipped to [0, 7] px and
    divided by 7 (DMENet's ``sigma_map_7_norm``); convert original-SYNDOF CoC labels with
    :func:`dbdzoo.metrics.defocus.dmenet_to_sigma` first. ``valid`` (optional, GT-sized) restricts
    the means to valid pixels; images without a valid pixel are skipped and counted.

    Args:
        protocol: ``"rtf"`` or ``"syndof"``.
        sigma_max: override the clipping/normalising constant.
    """

    def __init__(self, protocol: Literal["rtf", "syndof"] = "rtf", sigma_max: float | None = None) -> None:
        if protocol not in ("rtf", "syndof"):
            raise ValueError(f"protocol must be 'rtf' or 'syndof', got {protocol!r}")
        self.protocol = protocol
        self.sigma_max = sigma_max or (RTF_SIGMA_MAX if protocol == "rtf" else SYNDOF_SIGMA_MAX)
        self._state = torch.zeros(4, dtype=torch.float64)  # sum MSE, sum MAE, n_images, n_skipped

    def reset(self) -> None:
        self._state.zero_()

    def state_tensors(self) -> list[Tensor]:
        """Accumulators to sum across ranks."""
        return [self._state]

    def merge(self, other: DMEEvaluator) -> DMEEvaluator:
        """Add another evaluator's state into this one; returns ``self``."""
        for mine, theirs in zip(self.state_tensors(), other.state_tensors(), strict=True):
            mine += theirs.to(mine.device)
        return self

    @torch.no_grad()
    def update(
        self,
        pred_sigma: Tensor,
        gt_sigma: Tensor,
        valid: Tensor | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        """Add a batch of sigma maps in pixels (B x 1 x H x W or B x H x W; sizes may differ).

        Raises:
            ValueError: on NaN/inf predictions (naming the images), on a prediction whose H x W is the
                GT's W x H (transposed: cropping would score the wrong pixels), or on bad shapes.
        """
        pred, gt = _maps(pred_sigma), _maps(gt_sigma)
        if pred.shape[0] != gt.shape[0]:
            raise ValueError(f"batch sizes differ: pred {pred.shape[0]}, gt {gt.shape[0]}")
        labels = image_labels(names, len(pred))
        check_not_transposed(pred, gt, labels, what="sigma prediction")
        bad = ~torch.isfinite(pred).flatten(1).all(1)
        if bad.any():
            which = [labels[i] for i in bad.nonzero().flatten().tolist()]
            raise ValueError(f"sigma prediction contains NaN/inf for image(s): {', '.join(which)}")
        h, w = min(pred.shape[-2], gt.shape[-2]), min(pred.shape[-1], gt.shape[-1])
        pred, gt = pred[..., :h, :w].double(), gt[..., :h, :w].double().to(pred.device)
        m = (
            torch.ones_like(gt, dtype=torch.bool)
            if valid is None
            else _maps(valid)[..., :h, :w].to(gt.device) > 0
        )
        m = m & torch.isfinite(gt)
        s = self.sigma_max
        diff = (pred.clamp(0, s) / s - torch.nan_to_num(gt).clamp(0, s) / s) * m
        n = m.flatten(1).sum(1).double()
        ok = n > 0
        mse = (diff**2).flatten(1).sum(1)[ok] / n[ok]
        mae = diff.abs().flatten(1).sum(1)[ok] / n[ok]
        self._state += torch.stack([mse.sum(), mae.sum(), ok.sum().double(), (~ok).sum().double()]).cpu()

    def compute(self) -> dict[str, float]:
        """``MSE``, ``MAE`` (means over images), ``n_images`` and ``n_skipped``."""
        mse, mae, n, skipped = (float(x) for x in self._state)
        nan = float("nan")
        return {
            "MSE": mse / n if n else nan,
            "MAE": mae / n if n else nan,
            "n_images": n,
            "n_skipped": skipped,
        }


def _maps(x: Tensor) -> Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"sigma maps must be B x 1 x H x W or B x H x W, got {tuple(x.shape)}")
    return x
