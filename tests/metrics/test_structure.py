"""S-measure, E-measure and weighted F: hand-worked maps, brute-force references, the evaluator.

N = H·W pixels. E-measure divides by N − 1 (as the MATLAB code and PySODMetrics), so a perfect map
scores N / (N − 1), slightly above 1.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dbdzoo.metrics import StructureEvaluator, e_measure, s_measure, weighted_f
from dbdzoo.metrics.counting import resize_maps
from dbdzoo.metrics.structure import _distance_to_foreground, _nearest_foreground_index


def block_gt(h: int = 16, w: int = 16, rows: tuple[int, int] = (5, 11), cols: tuple[int, int] = (4, 12)):
    """Rectangle of foreground at least 3 px from every border (so the 7x7 filter sees no padding)."""
    g = np.zeros((h, w))
    g[rows[0] : rows[1], cols[0] : cols[1]] = 1
    return g


def brute_distance(g: np.ndarray) -> np.ndarray:
    fy, fx = np.nonzero(g)
    yy, xx = np.mgrid[: g.shape[0], : g.shape[1]]
    return np.sqrt(((yy[..., None] - fy) ** 2 + (xx[..., None] - fx) ** 2).min(-1))


def random_case(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:h, :w]
    cy, cx, r = rng.integers(2, h - 2), rng.integers(2, w - 2), rng.integers(2, 6)
    g = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r).astype(np.float64)
    p = np.clip(0.6 * g + 0.2 + 0.3 * rng.standard_normal((h, w)), 0, 1)
    return p, g


# ---------------------------------------------------------------------------------------------- S-measure
def test_s_measure_hand_example():
    # 5x5 GT, foreground = top-left 3x3 block (mu = 9/25); pred = 0.5 * GT.
    # Object: fg pred is 0.5 everywhere (std 0) -> 2*.5/(.25 + 1) = 0.8; bg 1-pred is 1 -> 2/(1+1) = 1;
    #   S_object = 0.8 * 9/25 + 1 * 16/25 = 23.2/25 = 0.928.
    # Region: fg centroid (row 1, col 1) -> split after row 2 / col 2 (MATLAB 1-based X = Y = 2).
    #   TL 2x2 is all foreground and pred is constant: SSIM terms alpha = beta = 0 -> 1, weight 4/25.
    #   Other quadrants have non-constant GT y and x = y/2: mean_x = m/2, var_x = v/4, cov = v/2, so
    #   SSIM = 4*(m/2)*m*(v/2) / ((m²/4 + m²)(v/4 + v)) = m²v / (1.5625 m²v) = 0.64, weights sum 21/25.
    #   S_region = 0.16 + 0.84 * 0.64 = 0.6976.
    # S = 0.5 * 0.928 + 0.5 * 0.6976 = 0.8128.
    g = np.zeros((5, 5))
    g[:3, :3] = 1
    assert s_measure(0.5 * g, g) == pytest.approx(0.8128, abs=1e-12)
    # alpha weights the two scores: alpha = 1 -> object score only
    assert s_measure(0.5 * g, g, alpha=1.0) == pytest.approx(0.928, abs=1e-12)


def test_perfect_and_inverted_prediction():
    g = block_gt()
    assert s_measure(g, g) == pytest.approx(1.0, abs=1e-12)
    e = e_measure(g, g)
    n = g.size
    assert e.adaptive == pytest.approx(n / (n - 1)) and e.max == pytest.approx(n / (n - 1))
    # curve: t = 0 makes every pixel foreground (FM mean 1 -> phi_FM = 0 -> xi = 0 -> 1/4 per pixel);
    # t = 1..255 reproduce the GT exactly. Mean = (255 + 1/4) / 256 * N / (N - 1).
    assert e.curve[0] == pytest.approx(0.25 * n / (n - 1))
    assert e.mean == pytest.approx((255 + 0.25) / 256 * n / (n - 1))
    assert weighted_f(g, g) == pytest.approx(1.0, abs=1e-12)

    inv = 1 - g
    # object score: 2*0/(0+1+0) = 0 on both classes; the region SSIMs are negative -> S clipped to 0
    assert s_measure(inv, g) == 0.0
    # adaptive threshold min(2*mean, 1) = 1 picks exactly the GT background: every pixel has
    # phi_FM = -phi_GT -> xi = -1 -> (1 - 1)²/4 = 0
    assert e_measure(inv, g).adaptive == pytest.approx(0.0, abs=1e-12)
    # E = 1 everywhere; EA = 1 on the interior foreground -> R^w = 0 -> TP^w = 0 -> F^w = 0
    assert weighted_f(inv, g) == pytest.approx(0.0, abs=1e-12)


def test_special_cases_all_zero_and_all_one_gt():
    pred = np.array([[0.0, 0.25], [0.5, 0.75]])  # mean 0.375; adaptive threshold 0.75 keeps one pixel
    zeros, ones = np.zeros((2, 2)), np.ones((2, 2))
    assert s_measure(pred, zeros) == pytest.approx(1 - 0.375)
    assert s_measure(pred, ones) == pytest.approx(0.375)
    # E with empty GT = #(FM = 0) / (N - 1); with full GT = #(FM = 1) / (N - 1), N = 4.
    # uint8 levels floor(255 p) = 0, 63, 127, 191 -> #(q >= t) summed over t = 0..255 is 1+64+128+192 = 385
    e0, e1 = e_measure(pred, zeros), e_measure(pred, ones)
    assert e0.adaptive == pytest.approx(3 / 3) and e1.adaptive == pytest.approx(1 / 3)
    assert e1.mean == pytest.approx(385 / (256 * 3)) and e1.max == pytest.approx(4 / 3)
    assert e0.mean == pytest.approx((4 * 256 - 385) / (256 * 3)) and e0.max == pytest.approx(4 / 3)
    assert weighted_f(pred, zeros) == 0.0  # no foreground: 0, as PySODMetrics
    # full GT: no background, B = 1, P^w = TP^w / TP^w = 1, R^w = 1 - mean(min(E, EA)) < 1
    wf1 = weighted_f(pred, ones)
    assert 0 < wf1 < 1


def test_constant_half_prediction():
    g = np.zeros((5, 5))
    g[:3, :3] = 1
    half = np.full((5, 5), 0.5)
    # S: object 0.8 on both classes -> 0.8; region: only the all-foreground TL quadrant scores 1
    # (constant pred against non-constant GT gives alpha = 0, beta > 0 -> 0), weight 4/25.
    assert s_measure(half, g) == pytest.approx(0.5 * 0.8 + 0.5 * 0.16, abs=1e-12)
    # E: threshold min(2*0.5, 1) = 1 -> empty FM; uint8 level 127 -> FM full for t <= 127, empty above.
    # Either way phi_FM = 0 -> xi = 0 -> 1/4 per pixel: E = (N/4) / (N - 1) at every threshold.
    e = e_measure(half, g)
    assert e.adaptive == pytest.approx(25 / 96) and e.mean == pytest.approx(25 / 96)
    assert np.allclose(e.curve, 25 / 96)
    # wF on an interior block: E = 0.5 everywhere, so EA = 0.5 on the foreground -> R^w = 0.5,
    # TP^w = G/2, FP^w = sum over background of 0.5 * (2 - 0.5^(d/5)), d = distance to the block.
    gb = block_gt()
    d = brute_distance(gb)[gb == 0]
    tp, fp = gb.sum() / 2, (0.5 * (2 - 0.5 ** (d / 5))).sum()
    p = tp / (tp + fp)
    assert weighted_f(np.full_like(gb, 0.5), gb) == pytest.approx(2 * 0.5 * p / (0.5 + p), rel=1e-12)


# ---------------------------------------------------------------------------------------------- references
def e_pixelwise(fm: np.ndarray, g: np.ndarray) -> float:
    """Fan et al. IJCAI 2018 for one binary map, written with the full alignment matrix."""
    phi_fm, phi_gt = fm - fm.mean(), g - g.mean()
    xi = 2 * phi_gt * phi_fm / (phi_gt**2 + phi_fm**2 + np.spacing(1))
    return float(((1 + xi) ** 2 / 4).sum() / (g.size - 1))


def test_e_measure_matches_pixelwise_definition():
    rng = np.random.default_rng(0)
    for h, w in ((9, 11), (13, 7)):
        pred, g = random_case(rng, h, w)
        q = np.floor(pred * 255)
        curve = [e_pixelwise((q >= t).astype(np.float64), g) for t in range(256)]
        e = e_measure(pred, g)
        np.testing.assert_allclose(e.curve, curve, rtol=1e-12)
        fm_adp = (pred >= min(2 * pred.mean(), 1)).astype(np.float64)
        assert e.adaptive == pytest.approx(e_pixelwise(fm_adp, g))
        assert e.mean == pytest.approx(np.mean(curve)) and e.max == pytest.approx(np.max(curve))


def test_weighted_f_matches_direct_computation():
    # The error on the foreground is constant (pred = 0.7 there), so which of several equally near
    # foreground pixels a background pixel copies does not matter; the background is random.
    rng = np.random.default_rng(1)
    g = np.zeros((12, 15))
    g[2:7, 1:6] = 1  # touches the zero padding of the 7x7 filter
    g[8, 10:14] = 1
    pred = np.where(g > 0, 0.7, rng.random(g.shape))
    gb = g > 0
    err = np.abs(pred - g)
    err_t = np.where(gb, err, 0.3)  # nearest-foreground error
    r = np.arange(-3, 4)
    k = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / 50.0)
    k /= k.sum()
    padded = np.pad(err_t, 3)
    ea = np.array([[(padded[i : i + 7, j : j + 7] * k).sum() for j in range(15)] for i in range(12)])
    min_e = np.where(gb & (ea < err), ea, err)
    ew = min_e * np.where(gb, 1.0, 2 - 0.5 ** (brute_distance(g) / 5))
    rec = 1 - ew[gb].mean()
    tp = gb.sum() - ew[gb].sum()
    prec = tp / (tp + ew[~gb].sum())
    assert (min_e[gb] < err[gb]).any()  # the border case of the filter is really exercised
    assert weighted_f(pred, g) == pytest.approx(2 * rec * prec / (rec + prec), rel=1e-12)
    assert weighted_f(pred, g, beta2=0.3) == pytest.approx(1.3 * rec * prec / (rec + 0.3 * prec), rel=1e-12)


def test_distance_and_nearest_index_are_exact():
    rng = np.random.default_rng(2)
    for density in (0.01, 0.05, 0.3):
        g = rng.random((23, 31)) < density
        g[11, 5] = True
        d_ref = brute_distance(g)
        gt = torch.from_numpy(g)
        np.testing.assert_array_equal(_distance_to_foreground(gt).numpy(), d_ref)
        iy, ix, found = (t.numpy() for t in _nearest_foreground_index(gt, radius=4))
        near = d_ref <= 4
        assert found[near].all()
        assert g[iy[near], ix[near]].all()
        yy, xx = np.mgrid[:23, :31]
        np.testing.assert_allclose(np.hypot(yy - iy, xx - ix)[near], d_ref[near], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------- evaluator
def batch(rng: np.random.Generator, b: int, h: int = 12, w: int = 14) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = [random_case(rng, h, w) for _ in range(b)]
    pred = torch.tensor(np.stack([p for p, _ in pairs]))[:, None]
    gt = torch.tensor(np.stack([g for _, g in pairs]))[:, None]
    return pred, gt


def per_image(pred: torch.Tensor, gt: torch.Tensor) -> dict[str, list]:
    out: dict[str, list] = {"S": [], "E_adp": [], "curve": [], "wF": []}
    for p, g in zip(pred[:, 0], gt[:, 0], strict=True):
        e = e_measure(p, g)
        out["S"].append(s_measure(p, g))
        out["E_adp"].append(e.adaptive)
        out["curve"].append(e.curve)
        out["wF"].append(weighted_f(p, g))
    return out


def test_evaluator_mean_equals_per_image_functions():
    rng = np.random.default_rng(3)
    (p1, g1), (p2, g2) = batch(rng, 3), batch(rng, 2)
    ev = StructureEvaluator()
    ev.update(p1, g1, names=["a", "b", "c"])
    ev.update(p2.float(), g2.float())  # float32 inputs are scored in float64
    res = ev.compute()
    ref = per_image(torch.cat([p1, p2.float().double()]), torch.cat([g1, g2]))
    assert res["n_images"] == 5
    for key in ("S", "E_adp", "wF"):
        assert res[key] == pytest.approx(np.mean(ref[key]), rel=1e-12)
    curves = np.stack(ref["curve"])
    assert res["E_mean"] == pytest.approx(curves.mean(), rel=1e-12)
    assert res["E_max"] == pytest.approx(curves.mean(0).max(), rel=1e-12)  # max of the mean curve
    assert res["E_max"] <= curves.max(1).mean() + 1e-12
    np.testing.assert_allclose(ev.e_curve(), curves.mean(0), rtol=1e-12)


def test_polarity_flip_state_merge_and_reset():
    rng = np.random.default_rng(4)
    pred, gt = batch(rng, 3)
    focus = StructureEvaluator(positive="in_focus")
    focus.update(pred, gt)
    flipped = StructureEvaluator()
    flipped.update(1 - pred, 1 - gt)
    blur = StructureEvaluator()
    blur.update(pred, gt)
    rf, rb = focus.compute(), blur.compute()
    assert rf == pytest.approx(flipped.compute(), rel=1e-12)
    assert rf["S"] != pytest.approx(rb["S"]) and rf["wF"] != pytest.approx(rb["wF"])

    # two "ranks" summed like all_reduce == one evaluator over everything
    a, b, both = StructureEvaluator(), StructureEvaluator(), StructureEvaluator()
    a.update(pred[:2], gt[:2])
    b.update(pred[2:], gt[2:])
    both.update(pred, gt)
    for mine, theirs in zip(a.state_tensors(), b.state_tensors(), strict=True):
        mine += theirs
    assert a.compute() == pytest.approx(both.compute(), rel=1e-12)
    b.reset()
    b.update(pred[2:], gt[2:])
    c = StructureEvaluator()
    c.update(pred[:2], gt[:2])
    assert c.merge(b).compute() == pytest.approx(both.compute(), rel=1e-12)
    with pytest.raises(ValueError, match="same positive"):
        c.merge(focus)
    c.reset()
    assert c.compute()["n_images"] == 0 and math.isnan(c.compute()["S"])


def test_evaluator_resizes_pred_to_gt():
    rng = np.random.default_rng(5)
    pred, gt = batch(rng, 2, 16, 20)
    small = resize_maps(pred, (8, 10), "bilinear")
    ev = StructureEvaluator()
    ev.update(small, gt)
    up = resize_maps(small, (16, 20), "bilinear")
    ref = per_image(up, gt)
    assert ev.compute()["S"] == pytest.approx(np.mean(ref["S"]), rel=1e-12)
    assert ev.compute()["wF"] == pytest.approx(np.mean(ref["wF"]), rel=1e-12)
    # a constant map stays constant: the 5x5 constant-0.5 S-measure on a 3x3 block (0.48)
    g = np.zeros((5, 5))
    g[:3, :3] = 1
    ev = StructureEvaluator()
    ev.update(torch.full((1, 1, 2, 3), 0.5), torch.tensor(g)[None, None])
    assert ev.compute()["S"] == pytest.approx(0.48, abs=1e-12)


def test_nan_prediction_names_the_image():
    pred, gt = torch.rand(2, 1, 6, 6), (torch.rand(2, 1, 6, 6) > 0.5).float()
    pred[1, 0, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="img_b"):
        StructureEvaluator().update(pred, gt, names=["img_a", "img_b"])
    with pytest.raises(ValueError, match="NaN"):
        s_measure(pred[1, 0], gt[1, 0])
    with pytest.raises(ValueError, match="positive"):
        StructureEvaluator(positive="focus")  # type: ignore[arg-type]
