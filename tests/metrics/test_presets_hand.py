"""Every preset on tiny maps whose numbers are worked out by hand in the comments.

Maps are given in canonical polarity (1 = blurred) as flat lists reshaped to 2x3 or 2x2; values
are dyadic (exact in float32, and under 1 - x) wherever a tie with a threshold matters.
F = 1.3 P R / (0.3 P + R).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from dbdzoo.metrics import DBDEvaluator, Preset, Threshold, get_preset, list_presets


def fb(p: float, r: float) -> float:
    return 0.0 if p == r == 0 else 1.3 * p * r / (0.3 * p + r)


def maps(values: list[float], h: int, w: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, 1, h, w)


def run(preset: str | Preset, pairs: list[tuple[list[float], list[float]]], h: int = 2, w: int = 3) -> dict:
    ev = DBDEvaluator([preset])
    for pred, gt in pairs:
        ev.update(maps(pred, h, w), maps(gt, h, w))
    name = preset if isinstance(preset, str) else preset.name
    return ev.compute()[name]


def native(name: str) -> Preset:
    """The registered preset at native size, so 2x3 examples are not resized to 320."""
    return replace(get_preset(name), eval_size="native")


A_PRED = [0.9, 0.5, 0.2, 0.7, 0.1, 0.6]
A_GT = [1, 1, 0, 1, 0, 0]


def test_registry_has_every_required_preset():
    required = {"sg_cvpr21", "dd_eccv20", "evp_cvpr23", "br2net_maxf", "zhao_fmax", "zhao_pr_auc", "ddffnet",
                "ddffnet_iou", "adaptive_f15", "adaptive_f20", "mean_f", "pr_auc"}  # fmt: skip
    assert required <= set(list_presets())
    with pytest.raises(KeyError, match="valid names"):
        get_preset("nope")


def test_ddffnet_strict_threshold_and_empty_gt():
    # blur > 0.5: pixels 0 (0.9), 3 (0.7), 5 (0.6); 0.5 sits exactly on the threshold -> negative.
    # GT {0,1,3}: TP=2, FP=1, FN=1 -> P=R=F=2/3, IoU=2/4. MAE vs binary GT = (.1+.5+.2+.3+.1+.6)/6 = .3
    # image 2: empty GT, one FP -> P=R=F=0 (sklearn zero_division); mean F = (2/3 + 0)/2
    res = run("ddffnet", [(A_PRED, A_GT), ([0.8, 0, 0, 0, 0, 0], [0] * 6)])
    assert res["F"] == pytest.approx((2 / 3) / 2)
    assert res["P"] == pytest.approx((2 / 3) / 2) and res["R"] == pytest.approx((2 / 3) / 2)
    assert res["IoU"] == pytest.approx(0.5 / 2)
    assert res["MAE"] == pytest.approx((0.3 + 0.8 / 6) / 2)
    assert res["n_empty_gt"] == 1 and res["n_images"] == 2 and res["threshold"] == 0.5


def test_ddffnet_iou_is_pooled_and_inclusive():
    # blur >= 0.5 now includes the tie (pixel 1): TP=3, FP=1, FN=0; image 2 adds FP=1.
    # pooled IoU = 3 / (3+2+0) = 0.6; pooled P = 3/5, R = 1
    res = run("ddffnet_iou", [(A_PRED, A_GT), ([0.8, 0, 0, 0, 0, 0], [0] * 6)])
    assert res["IoU"] == pytest.approx(0.6)
    assert res["F"] == pytest.approx(fb(0.6, 1.0))


def test_all_blur_gt_on_blur_and_in_focus_presets():
    pred = [0.9, 0.2, 0.7, 0.4, 0.6, 0.0]
    # blur class: >0.5 -> {0,2,4}: TP=3 of 6 positives, FP=0 -> P=1, R=.5, F=.8125
    assert run("ddffnet", [(pred, [1] * 6)])["F"] == pytest.approx(fb(1, 0.5))
    # in-focus class of an all-blur GT is empty -> SG scores F = 0 and counts it
    res = run(native("sg_cvpr21"), [(pred, [1] * 6)])
    assert res["F"] == 0 and res["n_empty_gt"] == 1


def test_sg_cvpr21_hand_example():
    # in-focus map 1-pred = [.1,.5,.8,.3,.9,.4], mean .5 -> threshold .75 -> {2,4}
    # in-focus GT = [0,0,1,0,1,1] (> .1) -> TP=2, FP=0, FN=1 -> P=1, R=2/3, F=26/29
    res = run(native("sg_cvpr21"), [(A_PRED, A_GT)])
    assert res["F"] == pytest.approx(26 / 29)
    assert (res["P"], res["R"]) == pytest.approx((1.0, 2 / 3))
    assert res["threshold"] == pytest.approx(0.75, abs=1e-6)
    assert res["MAE"] == pytest.approx(0.3, abs=1e-6)


def test_sg_cvpr21_at_320_equals_native_when_already_320():
    torch.manual_seed(0)
    pred, gt = torch.rand(2, 1, 320, 320), (torch.rand(2, 1, 320, 320) > 0.4).float()
    a, b = DBDEvaluator(["sg_cvpr21"]), DBDEvaluator([native("sg_cvpr21")])
    a.update(pred, gt)
    b.update(pred, gt)
    assert a.compute()["sg_cvpr21"] == b.compute()["sg_cvpr21"]
    c = DBDEvaluator(["sg_cvpr21"])
    c.update(torch.rand(1, 1, 40, 50), (torch.rand(1, 1, 200, 250) > 0.5).float())  # resized to 320
    assert 0 <= c.compute()["sg_cvpr21"]["F"] <= 1


def test_adaptive_presets_cap_tie_ge_versus_gt():
    # blur map [1,1,1,1,1,0]: 1.5*mean = 1.25 -> capped at 1; every 1 sits exactly on the threshold.
    # >=: {0..4}, GT {0,1,2}: TP=3, FP=2 -> P=.6, R=1; >: nothing -> P=R=F=0
    pairs = [([1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0])]
    assert run("adaptive_f15", pairs)["F"] == pytest.approx(fb(0.6, 1.0))
    strict = replace(get_preset("adaptive_f15"), name="strict", compare="gt")
    assert run(strict, pairs)["F"] == 0


def test_adaptive_f15_and_f20():
    # mean .5: k=1.5 -> .75 -> {0} (GT 1): P=1, R=1/3, F=13/19; k=2 -> 1.0 -> nothing -> 0
    assert run("adaptive_f15", [(A_PRED, A_GT)])["F"] == pytest.approx(13 / 19)
    assert run("adaptive_f20", [(A_PRED, A_GT)])["F"] == 0


def test_constant_prediction():
    # constant .5: adaptive threshold .75 -> empty map -> F = 0
    assert run("adaptive_f15", [([0.5] * 6, A_GT)])["F"] == 0
    # br2net: uint8 floor(127.5) = 127; t < 127 -> all positive: P=(3+e)/(6+e), R=1; t >= 127: P=1, R~e/3
    res = run("br2net_maxf", [([0.5] * 6, A_GT)])
    e = 1e-4
    assert res["F"] == pytest.approx(fb((3 + e) / (6 + e), 1.0))
    assert res["threshold"] == 0.0


def test_dd_eccv20_gt_bug_and_pooling():
    # image A: in-focus map [1,.75,.5,.25,0,0] -> uint8 [255,191,127,63,0,0], mean 106 -> > 159 -> {0,1}
    #          in-focus GT [1,1,0,0,0,0] -> uint8 mean 85 -> > 127.5 -> {0,1}: TP=2
    # image B: in-focus GT [1,1,1,1,1,0]: mean 212.5, 1.5*mean capped at 255, 255 > 255 false -> EMPTY (bug)
    #          in-focus map [1,0,0,0,0,0] -> mean 42.5 -> > 63.75 -> {0}: FP=1
    # pooled TP=2, FP=1, FN=0 -> P=2/3, R=1, F=13/18
    # MAE (soft GT, continuous map): A (0+.25+.5+.25)/6 = 1/6, B 4/6 -> 5/12
    a = ([0, 0.25, 0.5, 0.75, 1, 1], [0, 0, 1, 1, 1, 1])
    b = ([0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1])
    res = run("dd_eccv20", [a, b])
    assert res["F"] == pytest.approx(13 / 18)
    assert res["n_empty_gt"] == 1
    assert res["MAE"] == pytest.approx(5 / 12)
    # a GT with exactly 2/3 in-focus pixels is emptied too, one with 1/2 is not
    assert run("dd_eccv20", [([0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1])])["n_empty_gt"] == 1
    assert run("dd_eccv20", [([0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1])])["F"] == pytest.approx(1.0)


def test_evp_cvpr23_groups_of_four_in_update_order():
    a = ([0, 0.25, 0.5, 0.75, 1, 1], [0, 0, 1, 1, 1, 1])  # TP=2 (see DD test)
    b = ([0, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1])  # FP=1, emptied GT
    evp = native("evp_cvpr23")
    # [A,A,A,A] -> F=1; [B] -> P=R=0 -> F=0 (the original would print NaN); mean = .5
    res = run(evp, [a] * 4 + [b])
    assert res["F"] == pytest.approx(0.5) and res["n_groups"] == 2
    # [B,A,A,A]: TP=6, FP=1 -> P=6/7, R=1; [A] -> 1
    assert run(evp, [b] + [a] * 4)["F"] == pytest.approx((fb(6 / 7, 1) + 1) / 2)
    # the same five images pooled over the dataset (DD): TP=8, FP=1
    assert run("dd_eccv20", [a] * 4 + [b])["F"] == pytest.approx(fb(8 / 9, 1))


def test_br2net_maxf_smoothing_and_empty_gt():
    e = 1e-4
    # 2x2 blur map uint8 [200,100,50,0], GT [1,1,0,0], pred > t:
    #   t<50: {0,1,2} P=(2+e)/(3+e) R=1;  50<=t<100: {0,1} P=R=1 -> F=1 (first at t=50)
    res = run("br2net_maxf", [([200 / 255, 100 / 255, 50 / 255, 0], [1, 1, 0, 0])], 2, 2)
    assert res["F"] == pytest.approx(1.0) and res["threshold"] == pytest.approx(50 / 255)
    # add an empty-GT image (uint8 [127,0,0,0]): t<127 -> P=e/(1+e), R=e/e=1; t>=127 -> P=1, R=1 (eps quirk)
    # best mean point: 127<=t<200 -> img1 P=1, R=(1+e)/(2+e); img2 P=R=1
    res = run(
        "br2net_maxf", [([200 / 255, 100 / 255, 50 / 255, 0], [1, 1, 0, 0]), ([0.5, 0, 0, 0], [0] * 4)], 2, 2
    )
    assert res["F"] == pytest.approx(fb(1.0, (1 + (1 + e) / (2 + e)) / 2))
    assert res["threshold"] == pytest.approx(127 / 255)
    assert res["n_empty_gt"] == 1


def test_zhao_fmax_norm_best_threshold_and_inversion():
    # image 1: in-focus map 1-[.9,.8,.6,.5] = [.1,.2,.4,.5] / max -> [.2,.4,.8,1]; GT in-focus {2,3}
    #   best threshold in (.4, .8] -> {2,3}: P=R=F=1
    # image 2: all-blur GT -> empty in-focus GT -> invert GT and map: map [0,0,0,1] -> [1,1,1,0]
    #   any t in (0,1]: {0,1,2} of 4 positives: P=1, R=3/4, F=13/14
    pairs = [([0.9, 0.8, 0.6, 0.5], [1, 1, 0, 0]), ([1, 1, 1, 0.5], [1, 1, 1, 1])]
    res = run("zhao_fmax", pairs, 2, 2)
    assert res["F"] == pytest.approx((1 + 13 / 14) / 2)
    assert (res["P"], res["R"]) == pytest.approx((1.0, 0.875))
    assert res["n_empty_gt"] == 1
    # without inversion the empty image scores 0
    zero = replace(get_preset("zhao_fmax"), name="z0", empty_gt="zero")
    assert run(zero, pairs, 2, 2)["F"] == pytest.approx(0.5)
    skip = replace(get_preset("zhao_fmax"), name="z1", empty_gt="skip")
    res = run(skip, pairs, 2, 2)
    assert res["F"] == pytest.approx(1.0) and res["n_scored"] == 1 and res["n_images"] == 2


def test_zhao_pr_auc_curve_and_area():
    # in-focus map 1-[.75,.5,.25,0] = [.25,.5,.75,1], GT in-focus {2,3}; thresholds k/20, >=
    #   k=0..5 all: 13/23; k=6..10 {1,2,3}: 13/18; k=11..15 {2,3}: 1; k=16..20 {3}: 13/16
    res = run("zhao_pr_auc", [([0.75, 0.5, 0.25, 0.0], [1, 1, 0, 0])], 2, 2)
    f = [13 / 23] * 6 + [13 / 18] * 5 + [1.0] * 5 + [13 / 16] * 5
    assert res["F"] == pytest.approx(1.0) and res["threshold"] == pytest.approx(11 / 20)
    assert res["AUC"] == pytest.approx(0.05 * (sum(f) - (f[0] + f[-1]) / 2))


def test_pr_auc_and_mean_f():
    # blur map [1,.5,.5,0], GT [1,1,0,0]; thresholds k/255, >=:
    #   k=0 all (P=.5,R=1); k=1..127 {0,1,2} (P=2/3,R=1); k=128..255 {0} (P=1,R=.5)
    pair = [([1, 0.5, 0.5, 0], [1, 1, 0, 0])]
    res = run("pr_auc", pair, 2, 2)
    assert res["F"] == pytest.approx(13 / 16) and res["threshold"] == pytest.approx(128 / 255)
    assert res["AUC"] == pytest.approx(0.5 * (2 / 3 + 1) / 2)  # only the R: 1 -> .5 step has width
    # mean_f (uint8: .5 -> 127, so k=1..127 keep {0,1,2}, k>=128 only {0})
    res = run("mean_f", pair, 2, 2)
    assert res["F"] == pytest.approx((13 / 23 + 127 * 13 / 18 + 128 * 13 / 16) / 256)
    assert res["F_max"] == pytest.approx(13 / 16)


def test_custom_preset_is_composable_and_validated():
    p = Preset(name="mine", threshold=Threshold.fixed(0.25), compare="ge", aggregate="pooled")
    assert "fixed 0.25" in p.describe()
    assert run(p, [(A_PRED, A_GT)])["F"] == pytest.approx(fb(3 / 4, 1.0))  # >=.25: {0,1,3,5}, TP=3, FP=1
    with pytest.raises(ValueError, match="aggregate"):
        Preset(name="bad", threshold=Threshold.sweep(), aggregate="pooled_per_batch")
    with pytest.raises(ValueError, match="positive"):
        Preset(name="bad", positive="sharp")  # type: ignore[arg-type]
