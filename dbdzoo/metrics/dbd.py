"""Streaming evaluator for blur detection maps: every preset in one pass, memory independent of N.

State is a handful of float64 tensors per preset (sums of per-image ratios and pooled confusion
counts, over at most a few hundred thresholds), so evaluation can run batch by batch on the GPU and
be combined across ranks by summing :meth:`DBDEvaluator.state_tensors` (``all_reduce``) or
:meth:`DBDEvaluator.merge`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from dbdzoo.metrics import counting as C
from dbdzoo.metrics.aggregate import close_group, curve, summarise
from dbdzoo.metrics.presets import Preset, Threshold, get_preset

# Row layout of the per-preset state tensors.
_COUNT = ("n_images", "n_scored", "n_empty", "mae_sum")
_HEAD = ("P", "R", "F", "IoU", "thr", "TP", "FP", "FN", "TN")
_BEST = ("P", "R", "F", "IoU", "thr")
_GROUP = ("P", "R", "F", "IoU", "n_groups", "TP", "FP", "FN", "n_open")
_CURVE = ("P", "R", "F", "IoU", "FPR", "TP", "FP", "FN", "TN")


class _State:
    """Accumulators of one preset; ``curve`` thresholds are the preset's sweep or an auxiliary one."""

    def __init__(self, preset: Preset, num_thresholds: int, device: torch.device) -> None:
        self.preset = preset
        sweep = preset.threshold if preset.threshold.kind == "sweep" else Threshold.sweep(num_thresholds)
        self.curve_threshold = sweep
        self.tensors = {
            "count": torch.zeros(len(_COUNT), dtype=torch.float64, device=device),
            "head": torch.zeros(len(_HEAD), dtype=torch.float64, device=device),
            "best": torch.zeros(len(_BEST), dtype=torch.float64, device=device),
            "group": torch.zeros(len(_GROUP), dtype=torch.float64, device=device),
            "curve": torch.zeros(len(_CURVE), sweep.n, dtype=torch.float64, device=device),
        }

    def thresholds01(self) -> np.ndarray:
        """Curve thresholds in [0, 1] units, for reports and plots."""
        t = self.curve_threshold
        return (np.arange(t.start, t.start + t.n, dtype=np.float64) / t.denom).clip(0, None)


class DBDEvaluator:
    """Accumulate blur-detection metrics for several presets at once.

    Args:
        presets: preset names or :class:`Preset` objects (see ``list_presets()``).
        device: where state lives and inputs are moved; default: the device of the first ``update``.
        num_thresholds: thresholds of the auxiliary PR curve kept for non-sweep presets (plots, AUC).

    Example:
        >>> ev = DBDEvaluator(["br2net_maxf", "sg_cvpr21"])
        >>> ev.update(torch.rand(2, 1, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float())
        >>> ev.compute()["br2net_maxf"]["F"]  # doctest: +SKIP
    """

    def __init__(
        self,
        presets: Sequence[str | Preset] = ("br2net_maxf", "sg_cvpr21", "ddffnet", "ddffnet_iou"),
        device: torch.device | str | None = None,
        num_thresholds: int = 256,
    ) -> None:
        if isinstance(presets, (str, Preset)):
            presets = [presets]
        resolved = [get_preset(p) for p in presets]
        names = [p.name for p in resolved]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate preset names: {names}")
        if num_thresholds < 2:
            raise ValueError("num_thresholds must be >= 2")
        self.presets: dict[str, Preset] = dict(zip(names, resolved, strict=True))
        self.num_thresholds = num_thresholds
        self.device = torch.device(device) if device is not None else None
        self._states: dict[str, _State] | None = None

    # ------------------------------------------------------------------ state management
    def _ensure_state(self, device: torch.device) -> dict[str, _State]:
        if self._states is None:
            self.device = self.device or device
            self._states = {n: _State(p, self.num_thresholds, self.device) for n, p in self.presets.items()}
        return self._states

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        for state in (self._states or {}).values():
            for t in state.tensors.values():
                t.zero_()

    def state_tensors(self) -> list[Tensor]:
        """All accumulators in a fixed order; sum them across ranks (e.g. ``dist.all_reduce``) in place.

        Open ``pooled_per_batch`` groups of different ranks are summed into one group, so that preset
        is only exact on one process (its grouping is defined by update order).
        """
        states = self._ensure_state(self.device or torch.device("cpu"))
        return [t for s in states.values() for _, t in sorted(s.tensors.items())]

    def merge(self, other: DBDEvaluator) -> DBDEvaluator:
        """Add another evaluator's state (same presets) into this one; returns ``self``."""
        if list(other.presets) != list(self.presets):
            raise ValueError("can only merge evaluators built with the same presets")
        for mine, theirs in zip(self.state_tensors(), other.state_tensors(), strict=True):
            mine += theirs.to(mine.device)
        return self

    # ------------------------------------------------------------------ update
    @staticmethod
    def _as_maps(x: Tensor, what: str) -> Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != 1:
            raise ValueError(f"{what} must be B x 1 x H x W or B x H x W, got {tuple(x.shape)}")
        return x if x.dtype == torch.float64 else x.float()

    @torch.no_grad()
    def update(self, pred: Tensor, gt: Tensor, names: Sequence[str] | None = None) -> None:
        """Add a batch. ``pred``: blur probabilities in [0, 1]; ``gt``: canonical GT (1 = blurred).

        Raises:
            ValueError: on NaN/inf or out-of-range maps (naming the images) or bad shapes.
        """
        pred, gt = self._as_maps(pred, "pred"), self._as_maps(gt, "gt")
        if pred.shape[0] != gt.shape[0]:
            raise ValueError(f"batch sizes differ: pred {pred.shape[0]}, gt {gt.shape[0]}")
        states = self._ensure_state(pred.device)
        pred, gt = pred.to(self.device), gt.to(self.device)
        _check_batch(pred, gt, names)
        cache: dict[tuple, object] = {}
        for state in states.values():
            self._update_one(state, pred, gt, cache)

    def _update_one(self, state: _State, pred: Tensor, gt: Tensor, cache: dict) -> None:
        ps, t = state.preset, state.tensors
        size = tuple(gt.shape[-2:]) if ps.eval_size == "native" else (ps.eval_size, ps.eval_size)
        resize_p = ps.resize if tuple(pred.shape[-2:]) != size else None
        resize_g = ps.gt_resize if tuple(gt.shape[-2:]) != size else None
        prep_key = (size, resize_p, resize_g, ps.positive, ps.pred_norm)  # presets sharing work share it
        if prep_key not in cache:
            cache[prep_key] = C.prepare(pred, gt, ps)
        p, g = cache[prep_key]
        n_pix = p.shape[1]
        v_key = (*prep_key, ps.pred_scale)
        gt_key = (ps.gt_binarize, ps.threshold if ps.gt_binarize == "adaptive" else None)
        gb_key = (*v_key, gt_key)  # the adaptive GT rule depends on the scale and threshold too
        if gb_key not in cache:
            gb = C.binarize_gt(g, ps)
            cache[gb_key] = gb, torch.count_nonzero(gb, dim=1).double().unsqueeze(1)
        gb, npos = cache[gb_key]
        mae_key = ("mae", *prep_key, ps.mae_gt, gb_key if ps.mae_gt == "binary" else None)
        if mae_key not in cache:
            mae_gt = g if ps.mae_gt == "soft" else gb.to(p.dtype)
            cache[mae_key] = (p - mae_gt).abs().sum(1, dtype=torch.float64) / n_pix
        mae = cache[mae_key]
        if v_key not in cache:
            cache[v_key] = C.quantise(p, ps)
        v = cache[v_key]
        empty = npos[:, 0] == 0
        inverted = ps.empty_gt == "invert" and bool(empty.any())
        if inverted:
            v = torch.where(empty[:, None], ps.unit - v, v)
            gb = torch.where(empty[:, None], ~gb, gb)
            npos = torch.where(empty[:, None], n_pix - npos, npos)
        keep = ~empty if ps.empty_gt == "skip" else torch.ones_like(empty)
        nneg = n_pix - npos
        t["count"] += torch.stack(
            [mae.new_tensor(len(mae)), keep.sum().double(), empty.sum().double(), mae.sum()]
        )

        # curve over the sweep (the preset's own, or the auxiliary one for plots/AUC)
        thr = C.sweep_values(state.curve_threshold, ps.unit, v.dtype, v.device)
        idx_key = (*v_key, state.curve_threshold, ps.compare)
        if inverted:  # per-image inversion: nothing to share with other presets
            idx = C.bucket_index(v, state.curve_threshold, ps.unit, ps.compare)
            tp, fp = C.sweep_counts(idx, gb, thr.numel())
        else:
            if idx_key not in cache:
                cache[idx_key] = C.bucket_index(v, state.curve_threshold, ps.unit, ps.compare)
            if (idx_key, gt_key) not in cache:
                cache[idx_key, gt_key] = C.sweep_counts(cache[idx_key], gb, thr.numel())
            tp, fp = cache[idx_key, gt_key]
        k = keep[:, None].double()
        r = C.ratios(tp, fp, npos, nneg, ps.eps)
        t["curve"] += torch.stack(
            [(r[m] * k).sum(0) for m in ("P", "R", "F", "IoU", "FPR")]
            + [(x * k).sum(0) for x in (tp, fp, npos - tp, nneg - fp)]
        )
        if ps.threshold.kind == "sweep":
            if ps.aggregate == "mean_of_per_image_max":
                j = r["F"].argmax(1, keepdim=True)  # first maximum = lowest threshold on ties
                best = [r[m].gather(1, j) for m in ("P", "R", "F", "IoU")] + [thr.double()[j] / ps.unit]
                t["best"] += torch.stack([(b.squeeze(1) * keep).sum() for b in best])
            return

        # headline at the preset's single threshold
        if ps.threshold.kind == "fixed":
            th = torch.full((len(v), 1), ps.threshold.t * ps.unit, dtype=torch.float64, device=v.device)
        else:
            th = C.adaptive_threshold(v, ps.threshold, ps.unit)
        tp, fp = C.single_counts(v, gb, th, ps.compare)
        r = C.ratios(tp, fp, npos, nneg, ps.eps)
        k = keep[:, None].double()
        stats = [r[m] for m in ("P", "R", "F", "IoU")] + [th / ps.unit, tp, fp, npos - tp, nneg - fp]
        t["head"] += torch.stack([(s * k).sum() for s in stats])
        if ps.aggregate == "pooled_per_batch":
            self._update_groups(t["group"], ps.group_size, tp, fp, npos - tp, keep)

    @staticmethod
    def _update_groups(group: Tensor, size: int, tp: Tensor, fp: Tensor, fn: Tensor, keep: Tensor) -> None:
        """Pool consecutive images into groups of ``size``; close each full group into the sums."""
        rows = torch.cat([tp, fp, fn], 1)[keep].cpu().tolist()
        g = group.cpu()
        for tp_i, fp_i, fn_i in rows:
            g[5:8] += torch.tensor([tp_i, fp_i, fn_i], dtype=torch.float64)
            g[8] += 1
            if g[8] >= size:
                g[:5] += close_group(g)
                g[5:] = 0
        group.copy_(g)

    # ------------------------------------------------------------------ results
    def compute(self) -> dict[str, dict[str, float]]:
        """Per preset: ``F`` (headline), ``P``, ``R``, ``MAE``, ``IoU``, ``AUC``, ``threshold`` (best or
        mean per-image threshold in [0, 1] units, where defined), ``n_images``, ``n_scored``,
        ``n_empty_gt`` and, for mean-F style presets, ``F_max``. NaN where no image was scored."""
        states = self._ensure_state(self.device or torch.device("cpu"))
        return {name: summarise(state) for name, state in states.items()}

    def curves(self) -> dict[str, dict[str, np.ndarray]]:
        """Per preset: ``threshold`` ([0, 1] units), ``precision``, ``recall`` and ``f`` arrays.

        Precision/recall are pooled for pooled presets and image-averaged otherwise; ``f`` is
        F(P, R) of those curves, except for ``per_image_mean`` and ``mean_of_per_image_max`` presets
        where it is the image-averaged per-image F.
        """
        states = self._ensure_state(self.device or torch.device("cpu"))
        out = {}
        for name, state in states.items():
            p, r, f = curve(state)
            out[name] = {"threshold": state.thresholds01(), "precision": p, "recall": r, "f": f}
        return out


def _check_batch(pred: Tensor, gt: Tensor, names: Sequence[str] | None) -> None:
    """Fail loudly, naming the images, on non-finite or out-of-range maps."""
    if names is not None and len(names) != len(pred):
        raise ValueError(f"got {len(names)} names for a batch of {len(pred)}")
    labels = list(names) if names is not None else [f"#{i} of this batch" for i in range(len(pred))]

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
