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
from dbdzoo.metrics.counting import Ratios
from dbdzoo.metrics.inputs import as_maps, check_batch
from dbdzoo.metrics.presets import Preset, get_preset
from dbdzoo.metrics.state import Best, Count, Curve, Group, Head, PresetState


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
        self._states: dict[str, PresetState] | None = None

    # ------------------------------------------------------------------ state management
    def _ensure_state(self, device: torch.device) -> dict[str, PresetState]:
        if self._states is None:
            self.device = self.device or device
            self._states = {
                n: PresetState.zeros(p, self.num_thresholds, self.device) for n, p in self.presets.items()
            }
        return self._states

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        for state in (self._states or {}).values():
            for t in state.tensors():
                t.zero_()

    def state_tensors(self) -> list[Tensor]:
        """All accumulators in a fixed order; sum them across ranks (e.g. ``dist.all_reduce``) in place.

        Open ``pooled_per_batch`` groups of different ranks are summed into one group, so that preset
        is only exact on one process (its grouping is defined by update order).
        """
        states = self._ensure_state(self.device or torch.device("cpu"))
        return [t for s in states.values() for t in s.tensors()]

    def merge(self, other: DBDEvaluator) -> DBDEvaluator:
        """Add another evaluator's state (same presets) into this one; returns ``self``."""
        if list(other.presets) != list(self.presets):
            raise ValueError("can only merge evaluators built with the same presets")
        for mine, theirs in zip(self.state_tensors(), other.state_tensors(), strict=True):
            mine += theirs.to(mine.device)
        return self

    # ------------------------------------------------------------------ update
    @torch.no_grad()
    def update(self, pred: Tensor, gt: Tensor, names: Sequence[str] | None = None) -> None:
        """Add a batch. ``pred``: blur probabilities in [0, 1]; ``gt``: canonical GT (1 = blurred).

        Raises:
            ValueError: on NaN/inf or out-of-range maps (naming the images), on a prediction whose
                H x W is the GT's W x H (transposed), or on bad shapes.
        """
        pred, gt = as_maps(pred, "pred"), as_maps(gt, "gt")
        if pred.shape[0] != gt.shape[0]:
            raise ValueError(f"batch sizes differ: pred {pred.shape[0]}, gt {gt.shape[0]}")
        states = self._ensure_state(pred.device)
        pred, gt = pred.to(self.device), gt.to(self.device)
        check_batch(pred, gt, names)
        cache: dict[tuple, object] = {}
        for state in states.values():
            self._update_one(state, pred, gt, cache)

    def _update_one(self, state: PresetState, pred: Tensor, gt: Tensor, cache: dict) -> None:
        ps = state.preset
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
        state.count += torch.stack(
            Count(n_images=mae.new_tensor(len(mae)), n_scored=keep.sum().double(),
                  n_empty=empty.sum().double(), mae_sum=mae.sum())
        )  # fmt: skip

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

        def over_images(x: Tensor) -> Tensor:  # per-threshold sum over the scored images
            return (x * k).sum(0)

        state.curve += torch.stack(
            Curve(p=over_images(r.p), r=over_images(r.r), f=over_images(r.f), iou=over_images(r.iou),
                  fpr=over_images(r.fpr), tp=over_images(tp), fp=over_images(fp),
                  fn=over_images(npos - tp), tn=over_images(nneg - fp))
        )  # fmt: skip
        if ps.threshold.kind == "sweep":
            if ps.aggregate == "mean_of_per_image_max":
                j = r.f.argmax(1, keepdim=True)  # first maximum = lowest threshold on ties
                at_j = Ratios(*(x.gather(1, j) for x in r))
                best = Best(p=at_j.p, r=at_j.r, f=at_j.f, iou=at_j.iou, thr=thr.double()[j] / ps.unit)
                state.best += torch.stack([(b.squeeze(1) * keep).sum() for b in best])
            return

        # headline at the preset's single threshold
        if ps.threshold.kind == "fixed":
            th = torch.full((len(v), 1), ps.threshold.t * ps.unit, dtype=torch.float64, device=v.device)
        else:
            th = C.prediction_threshold(v, ps.threshold, ps.unit, ps.compare)
        tp, fp = C.single_counts(v, gb, th, ps.compare)
        r = C.ratios(tp, fp, npos, nneg, ps.eps)
        k = keep[:, None].double()
        stats = Head(
            p=r.p, r=r.r, f=r.f, iou=r.iou, thr=th / ps.unit, tp=tp, fp=fp, fn=npos - tp, tn=nneg - fp
        )
        state.head += torch.stack([(s * k).sum() for s in stats])
        if ps.aggregate == "pooled_per_batch":
            self._update_groups(state.group, ps.group_size, tp, fp, npos - tp, keep)

    @staticmethod
    def _update_groups(group: Tensor, size: int, tp: Tensor, fp: Tensor, fn: Tensor, keep: Tensor) -> None:
        """Pool consecutive images into groups of ``size``; close each full group into the sums."""
        rows = torch.cat([tp, fp, fn], 1)[keep].cpu().tolist()
        block = group.cpu()
        g = Group(*block)  # row views of ``block``
        for tp_i, fp_i, fn_i in rows:
            g.tp.add_(tp_i)
            g.fp.add_(fp_i)
            g.fn.add_(fn_i)
            g.n_open.add_(1)
            if g.n_open >= size:
                close_group(g)
                for x in (g.tp, g.fp, g.fn, g.n_open):
                    x.zero_()
        group.copy_(block)

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
