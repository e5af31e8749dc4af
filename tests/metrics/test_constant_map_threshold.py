"""Adaptive-threshold presets on constant maps: decided by the map's value, not by resize rounding."""

from __future__ import annotations

import torch

from dbdzoo.metrics import DBDEvaluator


def _score(pred: torch.Tensor, gt: torch.Tensor) -> dict:
    ev = DBDEvaluator(presets=["sg_cvpr21", "adaptive_f15"])
    ev.update(pred, gt, ["a"])
    return ev.compute()


def test_an_all_blur_map_with_rounding_noise_scores_like_an_exact_one():
    gt = torch.zeros(1, 1, 40, 60)
    gt[..., :30] = 1  # half blurred
    exact = torch.ones(1, 1, 40, 60)  # "everything is blurred": in-focus probability 0
    noisy = exact.clone()
    noisy[0, 0, ::7, ::5] -= 2e-8  # what bilinear resizing leaves in a constant map
    a, b = _score(exact, gt), _score(noisy, gt)
    for preset in ("sg_cvpr21", "adaptive_f15"):
        assert a[preset]["F"] == b[preset]["F"] and a[preset]["P"] == b[preset]["P"]
    # the authors' rule on an exact constant: in-focus map 0 passes 1.5 x 0 (>=), so all pixels in focus
    assert a["sg_cvpr21"]["R"] == 1.0 and abs(a["sg_cvpr21"]["P"] - 0.5) < 0.01  # GT resized to 320²
    assert abs(a["sg_cvpr21"]["threshold"]) < 1e-5  # reported near the map's value, finite
    assert a["adaptive_f15"]["R"] == 1.0  # blur map 1 passes min(1.5 x 1, 1) (>=): every pixel blurred


def test_non_constant_maps_keep_the_k_times_mean_rule():
    gt = torch.zeros(1, 1, 8, 8)
    gt[..., :4] = 1
    pred = torch.linspace(0, 1, 64).view(1, 1, 8, 8)
    thr = _score(pred, gt)["adaptive_f15"]["threshold"]
    assert abs(thr - min(1.5 * float(pred.mean()), 1.0)) < 1e-6
