"""Turn accumulated state into headline numbers and curves, one rule per aggregation (docs/metrics.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from dbdzoo.metrics import counting as C

if TYPE_CHECKING:
    from dbdzoo.metrics.dbd import _State


def close_group(g: Tensor) -> Tensor:
    """(P, R, F, IoU, 1) of one pooled group held in ``g[5:8]``."""
    tp, fp, fn = g[5], g[6], g[7]
    r = C.ratios(tp, fp, tp + fn, torch.zeros_like(tp))
    return torch.stack([r["P"], r["R"], r["F"], r["IoU"], torch.ones_like(tp)])


def curve(state: _State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ps, c = state.preset, state.tensors["curve"].cpu()
    n = float(state.tensors["count"][1])
    if ps.aggregate in ("pooled", "pooled_per_batch"):
        tp, fp, fn, tn = c[5], c[6], c[7], c[8]
        r = C.ratios(tp, fp, tp + fn, fp + tn, ps.eps)
        p, rec, f = r["P"], r["R"], r["F"]
    else:
        p, rec = c[0] / max(n, 1), c[1] / max(n, 1)
        mean_f = ps.aggregate in ("per_image_mean", "mean_of_per_image_max")
        f = c[2] / max(n, 1) if mean_f else C.f_beta(p, rec)
    return p.numpy(), rec.numpy(), f.numpy()


def summarise(state: _State) -> dict[str, float]:
    ps, t = state.preset, {k: v.cpu() for k, v in state.tensors.items()}
    n_images, n, n_empty, mae_sum = (float(x) for x in t["count"])
    res: dict[str, float] = {
        "n_images": n_images,
        "n_scored": n,
        "n_empty_gt": n_empty,
        "MAE": mae_sum / n_images if n_images else float("nan"),
    }
    p, rec, f = (torch.from_numpy(a) for a in curve(state))
    thr01 = torch.from_numpy(state.thresholds01())
    if ps.auc == "pr":
        res["AUC"] = C.trapezoid(p, rec)
    else:
        res["AUC"] = C.trapezoid(C.f_beta(p, rec), thr01)
    if n == 0:
        res.update({k: float("nan") for k in ("F", "P", "R", "IoU")})
        return res
    agg = ps.aggregate
    if ps.threshold.kind == "sweep":
        if agg == "mean_of_per_image_max":
            bp, br, bf, biou, bthr = (float(x) / n for x in t["best"])
            res.update(F=bf, P=bp, R=br, IoU=biou, threshold=bthr)
        elif agg == "per_image_mean":
            c = t["curve"] / n
            res.update(F=float(c[2].mean()), F_max=float(c[2].max()), P=float(c[0].mean()),
                       R=float(c[1].mean()), IoU=float(c[3].mean()))  # fmt: skip
        else:  # meanPR_then_max or pooled: best point of F(P, R)
            fc = C.f_beta(p, rec)
            j = int(fc.argmax())
            iou = t["curve"][3, j] / n if agg == "meanPR_then_max" else _pooled_iou(t["curve"][5:8, j])
            res.update(
                F=float(fc[j]), P=float(p[j]), R=float(rec[j]), IoU=float(iou), threshold=float(thr01[j])
            )
        return res
    h = t["head"]
    res["threshold"] = float(h[4]) / n
    if agg == "per_image_mean":
        res.update(P=float(h[0]) / n, R=float(h[1]) / n, F=float(h[2]) / n, IoU=float(h[3]) / n)
    elif agg == "pooled":
        r = C.ratios(h[5], h[6], h[5] + h[7], h[6] + h[8], ps.eps)
        res.update(P=float(r["P"]), R=float(r["R"]), F=float(r["F"]), IoU=float(r["IoU"]))
    else:  # pooled_per_batch: close the open (short last) group without mutating the state
        g = t["group"].clone()
        if g[8] > 0:
            g[:5] += close_group(g)
        ng = float(g[4])
        res.update(P=float(g[0]) / ng, R=float(g[1]) / ng, F=float(g[2]) / ng, IoU=float(g[3]) / ng)
        res["n_groups"] = ng
    return res


def _pooled_iou(counts: Tensor) -> float:
    tp, fp, fn = (float(x) for x in counts)
    return tp / (tp + fp + fn) if tp + fp + fn > 0 else 0.0
