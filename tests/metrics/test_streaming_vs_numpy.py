"""The vectorised streaming evaluator equals a plain per-image, per-threshold numpy loop."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from dbdzoo.metrics import DBDEvaluator, Preset, get_preset, list_presets


def _ratios(tp: int, fp: int, fn: int, eps: float) -> tuple[float, float, float, float]:
    if eps > 0:
        p, r = (tp + eps) / (tp + fp + eps), (tp + eps) / (tp + fn + eps)
    else:
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
    f = 1.3 * p * r / (0.3 * p + r) if 0.3 * p + r > 0 else 0.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    return p, r, f, iou


def reference(ps: Preset, images: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Straightforward numpy version of a preset (inputs already at evaluation size)."""
    unit = 255.0 if ps.pred_scale == "uint8" else 1.0
    per_image, maes, n_empty = [], [], 0
    for pred, gt in images:
        p, g = pred.astype(np.float32), gt.astype(np.float32)
        if ps.positive == "in_focus":
            p, g = 1 - p, 1 - g
        if ps.pred_norm == "max":
            p = p / p.max() if p.max() > 0 else np.zeros_like(p)
        quant = (lambda x: np.clip(np.floor(x * 255 + 1e-4), 0, 255)) if unit == 255 else (lambda x: x)
        if ps.gt_binarize == "adaptive":
            gq = quant(g)
            tg = np.float64(min(ps.threshold.k * gq.astype(np.float64).mean(), ps.threshold.cap * unit))
            gb = gq >= tg if ps.compare == "ge" else gq > tg
        else:
            op, val = ps.gt_binarize
            gb = g > val if op == "gt" else g >= val
        maes.append(np.abs(p.astype(np.float64) - (g if ps.mae_gt == "soft" else gb)).mean())
        v = quant(p)
        empty = not gb.any()
        n_empty += empty
        if empty and ps.empty_gt == "invert":
            v, gb = unit - v, ~gb
        if empty and ps.empty_gt == "skip":
            continue
        th = ps.threshold
        if th.kind == "sweep":
            i = np.arange(th.start, th.start + th.n).astype(np.float32)
            thresholds = list(
                i if unit == 255 and th.denom == 255 else i * np.float32(unit) / np.float32(th.denom)
            )
        elif th.kind == "fixed":
            thresholds = [np.float64(th.t * unit)]
        else:
            thresholds = [np.float64(min(th.k * v.astype(np.float64).mean(), th.cap * unit))]
        rows = []
        for t in thresholds:
            pos = v >= t if ps.compare == "ge" else v > t
            tp, fp, fn = int((pos & gb).sum()), int((pos & ~gb).sum()), int((~pos & gb).sum())
            rows.append((tp, fp, fn, *_ratios(tp, fp, fn, ps.eps)))
        per_image.append(np.array(rows, dtype=np.float64))  # (n_thr, 7): tp fp fn P R F IoU
    out = {"MAE": float(np.mean(maes)), "n_empty_gt": float(n_empty)}
    a = np.stack(per_image)  # (n_img, n_thr, 7)
    agg = ps.aggregate
    if agg == "per_image_mean":
        m = a[..., 3:].mean(0)  # (n_thr, 4)
        out.update(P=m[:, 0].mean(), R=m[:, 1].mean(), F=m[:, 2].mean(), IoU=m[:, 3].mean())
    elif agg == "pooled":
        tp, fp, fn = a[..., :3].sum(0)[0]
        out.update(dict(zip("PRF", _ratios(int(tp), int(fp), int(fn), ps.eps)[:3], strict=True)))
    elif agg == "pooled_per_batch":
        groups = [a[i : i + ps.group_size, 0, :3].sum(0) for i in range(0, len(a), ps.group_size)]
        f = np.array([_ratios(int(tp), int(fp), int(fn), 0.0) for tp, fp, fn in groups])
        out.update(P=f[:, 0].mean(), R=f[:, 1].mean(), F=f[:, 2].mean())
    elif agg == "meanPR_then_max":
        mp, mr = a[..., 3].mean(0), a[..., 4].mean(0)
        fc = [1.3 * p * r / (0.3 * p + r) if 0.3 * p + r else 0.0 for p, r in zip(mp, mr, strict=True)]
        j = int(np.argmax(fc))
        out.update(P=mp[j], R=mr[j], F=fc[j])
    else:  # mean_of_per_image_max
        j = a[..., 5].argmax(1)
        best = a[np.arange(len(a)), j]
        out.update(P=best[:, 3].mean(), R=best[:, 4].mean(), F=best[:, 5].mean(), IoU=best[:, 6].mean())
    return out


def random_batch(rng: np.random.Generator, b: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Mix of continuous maps, 8-bit maps (ties with k/255 thresholds), soft and binary GTs, edge cases."""
    pred = rng.random((b, h, w), dtype=np.float32)
    pred[0] = rng.integers(0, 256, (h, w)).astype(np.float32) / np.float32(255)
    gt = (rng.random((b, h, w)) > rng.uniform(0.2, 0.8)).astype(np.float32)
    gt[-1] = rng.random((h, w), dtype=np.float32)  # soft GT
    if b > 2:
        gt[1] = 0.0  # empty blur GT (all in focus)
        pred[2] = 0.5  # constant prediction
    return pred, gt


@pytest.mark.parametrize("name", list_presets())
def test_streaming_matches_numpy_loop(name: str):
    ps = get_preset(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    sizes = [(24, 31), (17, 20), (24, 31)] if ps.eval_size == "native" else [(ps.eval_size,) * 2] * 2
    if ps.eval_size != "native":  # keep the numpy loop fast at 320x320
        ps = replace(ps, eval_size=24)
        sizes = [(24, 24)] * 2
    ev = DBDEvaluator([ps])
    images = []
    for h, w in sizes:
        pred, gt = random_batch(rng, 3, h, w)
        ev.update(torch.from_numpy(pred)[:, None], torch.from_numpy(gt)[:, None])
        images += list(zip(pred, gt, strict=True))
    got, want = ev.compute()[ps.name], reference(ps, images)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-6 if key == "MAE" else 1e-9, abs=1e-12), key


def test_polarity_flip_equals_scoring_the_other_class():
    rng = np.random.default_rng(0)
    pred = torch.from_numpy(rng.integers(0, 257, (4, 1, 16, 16)) / 256).float()  # 1 - x exact
    gt = torch.from_numpy(rng.integers(0, 2, (4, 1, 16, 16))).float()
    for name in ("sg_cvpr21", "zhao_fmax", "dd_eccv20"):
        focus = replace(get_preset(name), eval_size="native")
        blur = replace(focus, name="b", positive="blur")
        a, b = DBDEvaluator([focus]), DBDEvaluator([blur])
        a.update(pred, gt)
        b.update(1 - pred, 1 - gt)
        ra, rb = a.compute()[name], b.compute()["b"]
        assert ra == pytest.approx(rb), name
    # and the flip matters: blur vs in-focus scores differ on the same maps
    c = DBDEvaluator(["adaptive_f15", replace(get_preset("adaptive_f15"), name="f", positive="in_focus")])
    c.update(pred, gt)
    r = c.compute()
    assert r["adaptive_f15"]["F"] != pytest.approx(r["f"]["F"])


def test_nan_and_range_errors_name_the_image():
    ev = DBDEvaluator(["ddffnet"])
    pred = torch.rand(2, 1, 8, 8)
    pred[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="beta.png"):
        ev.update(pred, torch.ones(2, 1, 8, 8), names=["alpha.png", "beta.png"])
    with pytest.raises(ValueError, match="sigmoid"):
        ev.update(torch.full((1, 1, 8, 8), 3.0), torch.ones(1, 1, 8, 8), names=["logit.png"])
    with pytest.raises(ValueError, match="inf"):
        ev.update(torch.full((1, 8, 8), float("inf")), torch.ones(1, 8, 8))


def test_merge_state_tensors_and_reset():
    rng = np.random.default_rng(1)
    names = ["br2net_maxf", "zhao_fmax", "ddffnet_iou", "mean_f", "adaptive_f20"]
    whole, part1, part2 = (DBDEvaluator(names) for _ in range(3))
    for i in range(4):
        pred, gt = (torch.from_numpy(x)[:, None] for x in random_batch(rng, 3, 12, 14))
        whole.update(pred, gt)
        (part1 if i % 2 else part2).update(pred, gt)
    # summing state tensors (what all_reduce does) equals one evaluator that saw everything
    merged = part1.merge(part2).compute()
    for name, res in whole.compute().items():
        assert merged[name] == pytest.approx(res), name
    assert all(t.dtype == torch.float64 for t in whole.state_tensors())
    whole.reset()
    assert whole.compute()["ddffnet_iou"]["n_images"] == 0


def test_curves_have_consistent_shapes_and_ranges():
    ev = DBDEvaluator(["br2net_maxf", "zhao_pr_auc", "ddffnet"], num_thresholds=64)
    ev.update(torch.rand(2, 1, 10, 10), (torch.rand(2, 1, 10, 10) > 0.5).float())
    curves = ev.curves()
    assert len(curves["br2net_maxf"]["precision"]) == 256
    assert len(curves["zhao_pr_auc"]["threshold"]) == 21
    assert len(curves["ddffnet"]["recall"]) == 64  # auxiliary curve of a fixed-threshold preset
    for c in curves.values():
        assert np.all((c["precision"] >= 0) & (c["precision"] <= 1)) and np.all(np.diff(c["recall"]) <= 1e-12)


def test_state_size_is_independent_of_dataset_size():
    ev = DBDEvaluator(list_presets())
    ev.update(torch.rand(2, 1, 8, 8), torch.ones(2, 1, 8, 8))
    before = sum(t.numel() for t in ev.state_tensors())
    for _ in range(3):
        ev.update(torch.rand(4, 1, 9, 7), torch.zeros(4, 1, 9, 7))
    assert sum(t.numel() for t in ev.state_tensors()) == before


@pytest.mark.parametrize("compare", ["ge", "gt"])
@pytest.mark.parametrize(("n", "start", "denom", "unit"), [(256, 0, 255, 1.0), (255, 1, 255, 1.0), (21, 0, 20, 1.0),
                                                            (101, 0, 100, 1.0), (256, 0, 255, 255.0), (21, 0, 20, 255.0)])  # fmt: skip
def test_arithmetic_bucket_index_equals_bucketize(compare, n, start, denom, unit):
    from dbdzoo.metrics import Threshold
    from dbdzoo.metrics.counting import bucket_index, sweep_values

    th = Threshold.sweep(n, start, denom)
    g = torch.Generator().manual_seed(n + start)
    k = torch.arange(denom + 1, dtype=torch.float32)
    v = torch.cat([torch.rand(5000, generator=g), k / denom, k / 255, 1 - k / 255, torch.tensor([0.0, 1.0])])
    v = torch.floor(v * 255) if unit == 255.0 else v  # integer maps for uint8 presets
    thr = sweep_values(th, unit, torch.float32, v.device)
    expected = torch.bucketize(v, thr, right=(compare == "ge"))
    assert torch.equal(bucket_index(v[None], th, unit, compare)[0].long(), expected)


def test_gt_range_and_names_are_checked():
    ev = DBDEvaluator(["ddffnet"])
    with pytest.raises(ValueError, match="255"):
        ev.update(torch.rand(1, 1, 4, 4), torch.full((1, 1, 4, 4), 255.0), names=["m.png"])
    with pytest.raises(ValueError, match="names"):
        ev.update(torch.rand(2, 1, 4, 4), torch.ones(2, 1, 4, 4), names=["only-one"])
    with pytest.raises(ValueError, match="B x 1 x H x W"):
        ev.update(torch.rand(2, 3, 4, 4), torch.ones(2, 3, 4, 4))
