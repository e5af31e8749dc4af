"""Turn accumulated state into headline numbers and curves, one rule per aggregation (docs/metrics.md)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from dbdzoo.metrics import counting as C
from dbdzoo.metrics.state import Best, Count, Curve, Group, Head, PresetState


def close_group(g: Group) -> None:
    """Add the open group's pooled P, R, F, IoU to the closed-group sums (in place; counts stay)."""
    r = C.ratios(g.tp, g.fp, g.tp + g.fn, torch.zeros_like(g.tp))
    for total, value in zip((g.p, g.r, g.f, g.iou), (r.p, r.r, r.f, r.iou), strict=True):
        total.add_(value)
    g.n_groups.add_(1)


def curve(state: PresetState) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ps, c = state.preset, Curve(*state.curve.cpu())
    n = float(Count(*state.count).n_scored)
    if ps.aggregate in ("pooled", "pooled_per_batch"):
        r = C.ratios(c.tp, c.fp, c.tp + c.fn, c.fp + c.tn, ps.eps)
        p, rec, f = r.p, r.r, r.f
    else:
        p, rec = c.p / max(n, 1), c.r / max(n, 1)
        mean_f = ps.aggregate in ("per_image_mean", "mean_of_per_image_max")
        f = c.f / max(n, 1) if mean_f else C.f_beta(p, rec)
    return p.numpy(), rec.numpy(), f.numpy()


def summarise(state: PresetState) -> dict[str, float]:
    ps, t = state.preset, state.cpu()
    count = Count(*(float(x) for x in t.count))
    n_images, n = count.n_images, count.n_scored
    res: dict[str, float] = {
        "n_images": n_images,
        "n_scored": n,
        "n_empty_gt": count.n_empty,
        "MAE": count.mae_sum / n_images if n_images else float("nan"),
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
        c = Curve(*t.curve)
        if agg == "mean_of_per_image_max":
            b = Best(*(float(x) / n for x in t.best))
            res.update(F=b.f, P=b.p, R=b.r, IoU=b.iou, threshold=b.thr)
        elif agg == "per_image_mean":
            m = Curve(*(row / n for row in c))  # image means per threshold
            res.update(F=float(m.f.mean()), F_max=float(m.f.max()), P=float(m.p.mean()),
                       R=float(m.r.mean()), IoU=float(m.iou.mean()))  # fmt: skip
        else:  # meanPR_then_max or pooled: best point of F(P, R)
            fc = C.f_beta(p, rec)
            j = int(fc.argmax())
            iou = c.iou[j] / n if agg == "meanPR_then_max" else _pooled_iou(c.tp[j], c.fp[j], c.fn[j])
            res.update(
                F=float(fc[j]), P=float(p[j]), R=float(rec[j]), IoU=float(iou), threshold=float(thr01[j])
            )
        return res
    h = Head(*t.head)
    res["threshold"] = float(h.thr) / n
    if agg == "per_image_mean":
        res.update(P=float(h.p) / n, R=float(h.r) / n, F=float(h.f) / n, IoU=float(h.iou) / n)
    elif agg == "pooled":
        r = C.ratios(h.tp, h.fp, h.tp + h.fn, h.fp + h.tn, ps.eps)
        res.update(P=float(r.p), R=float(r.r), F=float(r.f), IoU=float(r.iou))
    else:  # pooled_per_batch: close the open (short last) group without mutating the state
        g = Group(*t.group.clone())
        if g.n_open > 0:
            close_group(g)
        ng = float(g.n_groups)
        res.update(P=float(g.p) / ng, R=float(g.r) / ng, F=float(g.f) / ng, IoU=float(g.iou) / ng)
        res["n_groups"] = ng
    return res


def _pooled_iou(tp: Tensor, fp: Tensor, fn: Tensor) -> float:
    tp_, fp_, fn_ = float(tp), float(fp), float(fn)
    return tp_ / (tp_ + fp_ + fn_) if tp_ + fp_ + fn_ > 0 else 0.0
