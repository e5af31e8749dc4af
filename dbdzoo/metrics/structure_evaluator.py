"""Streaming S-measure, E-measure and weighted F over a dataset, from ``structure``'s per-image measures.

State is two float64 tensors of sums, so ranks can ``all_reduce`` them and evaluators merge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from dbdzoo.metrics.counting import resize_maps
from dbdzoo.metrics.inputs import as_maps, check_batch
from dbdzoo.metrics.structure import N_THRESHOLDS, _e_measure, _s_measure, _weighted_f

_SUMS = ("n_images", "S", "E_adp", "wF")


class StructureEvaluator:
    """Streaming S-measure, E-measure and weighted F over a dataset (mean over images).

    Args:
        positive: ``"blur"`` scores blur probabilities against GT 1 = blurred (canonical polarity);
            ``"in_focus"`` scores 1 − pred against 1 − gt.
        alpha: S-measure object/region balance.
        beta2: weighted-F β².
        device: where state lives; default: the device of the first ``update``.

    ``compute()`` returns ``S``, ``E_adp``, ``wF`` (means of per-image values), ``E_mean`` and
    ``E_max`` (mean and max over thresholds of the image-averaged E curve, as PySODMetrics; so
    ``E_max`` is not the mean of per-image maxima) and ``n_images``. State is two float64 tensors
    (sums), so :meth:`state_tensors` can be ``all_reduce``d across ranks.
    """

    def __init__(
        self,
        positive: Literal["blur", "in_focus"] = "blur",
        alpha: float = 0.5,
        beta2: float = 1.0,
        device: torch.device | str | None = None,
    ) -> None:
        if positive not in ("blur", "in_focus"):
            raise ValueError(f"positive must be 'blur' or 'in_focus', got {positive!r}")
        self.positive = positive
        self.alpha = alpha
        self.beta2 = beta2
        self.device = torch.device(device) if device is not None else None
        self._sums: Tensor | None = None
        self._curve: Tensor | None = None

    def _ensure_state(self, device: torch.device) -> tuple[Tensor, Tensor]:
        if self._sums is None or self._curve is None:
            self.device = self.device or device
            self._sums = torch.zeros(len(_SUMS), dtype=torch.float64, device=self.device)
            self._curve = torch.zeros(N_THRESHOLDS, dtype=torch.float64, device=self.device)
        return self._sums, self._curve

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        for t in self.state_tensors():
            t.zero_()

    def state_tensors(self) -> list[Tensor]:
        """``[sums, e_curve_sum]``; sum them across ranks (e.g. ``dist.all_reduce``) in place."""
        return list(self._ensure_state(self.device or torch.device("cpu")))

    def merge(self, other: StructureEvaluator) -> StructureEvaluator:
        """Add another evaluator's state into this one; returns ``self``."""
        if (other.positive, other.alpha, other.beta2) != (self.positive, self.alpha, self.beta2):
            raise ValueError("can only merge evaluators with the same positive class, alpha and beta2")
        for mine, theirs in zip(self.state_tensors(), other.state_tensors(), strict=True):
            mine += theirs.to(mine.device)
        return self

    @torch.no_grad()
    def update(self, pred: Tensor, gt: Tensor, names: Sequence[str] | None = None) -> None:
        """Add a batch: ``pred`` B×1×h×w blur probabilities in [0, 1], ``gt`` B×1×H×W (1 = blurred).

        ``pred`` is resized to the GT size (bilinear, antialiased when shrinking) if they differ.

        Raises:
            ValueError: on NaN/inf or out-of-range maps (naming the images), on a prediction whose
                H x W is the GT's W x H (transposed), or on bad shapes.
        """
        pred, gt = as_maps(pred, "pred"), as_maps(gt, "gt")
        if pred.shape[0] != gt.shape[0]:
            raise ValueError(f"batch sizes differ: pred {pred.shape[0]}, gt {gt.shape[0]}")
        sums, curve_sum = self._ensure_state(pred.device)
        pred = pred.to(self.device, torch.float64)
        gt = gt.to(self.device, torch.float64)
        check_batch(pred, gt, names)
        pred = resize_maps(pred, tuple(gt.shape[-2:]), "bilinear")
        if self.positive == "in_focus":
            pred, gt = 1 - pred, 1 - gt
        gb = gt > 0.5
        for p, g in zip(pred[:, 0], gb[:, 0], strict=True):
            e_adp, e_curve = _e_measure(p, g)
            s = _s_measure(p, g, self.alpha)
            wf = _weighted_f(p, g, self.beta2)
            sums += torch.tensor([1.0, s, e_adp, wf], dtype=torch.float64, device=sums.device)
            curve_sum += e_curve

    def e_curve(self) -> np.ndarray:
        """Image-averaged E-measure at thresholds t/255, t = 0..255 (NaN before any update)."""
        sums, curve_sum = self.state_tensors()
        n = float(sums[0])
        return (curve_sum / n).cpu().numpy() if n > 0 else np.full(N_THRESHOLDS, np.nan)

    def compute(self) -> dict[str, float]:
        """``{"S", "E_adp", "E_mean", "E_max", "wF", "n_images"}``; NaN values before any update."""
        sums = self.state_tensors()[0]
        n = float(sums[0])
        if n == 0:
            return {"S": math.nan, "E_adp": math.nan, "E_mean": math.nan, "E_max": math.nan,
                    "wF": math.nan, "n_images": 0.0}  # fmt: skip
        curve = self.e_curve()
        return {
            "S": float(sums[1]) / n,
            "E_adp": float(sums[2]) / n,
            "E_mean": float(curve.mean()),
            "E_max": float(curve.max()),
            "wF": float(sums[3]) / n,
            "n_images": n,
        }
