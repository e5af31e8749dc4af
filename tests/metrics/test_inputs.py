"""Shared input checks: a prediction with H and W swapped is refused by every evaluator, not resized."""

from __future__ import annotations

import pytest
import torch

from dbdzoo.metrics import DBDEvaluator, DMEEvaluator, StructureEvaluator
from dbdzoo.metrics.inputs import as_maps, check_batch


def maps(h: int, w: int, b: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.rand(b, 1, h, w), (torch.rand(b, 1, h, w) > 0.5).float()


@pytest.mark.parametrize(
    "make",
    [
        lambda: DBDEvaluator(["br2net_maxf"]),  # native size: the prediction would be resized to the GT
        lambda: DBDEvaluator(["sg_cvpr21"]),  # 320 x 320: both would be resized and scored silently
        StructureEvaluator,
    ],
    ids=["dbd_native", "dbd_320", "structure"],
)
def test_transposed_prediction_is_an_error(make):
    pred, _ = maps(24, 40)
    _, gt = maps(40, 24)
    with pytest.raises(
        ValueError, match=r"prediction is 24x40 .* ground truth is 40x24.*transposed.*img_a, img_b"
    ):
        make().update(pred, gt, names=["img_a", "img_b"])


def test_transposed_sigma_map_is_an_error():
    with pytest.raises(
        ValueError, match=r"sigma prediction is 30x20 .* ground truth is 20x30.*#0 of this batch"
    ):
        DMEEvaluator("rtf").update(torch.rand(1, 1, 30, 20), torch.rand(1, 1, 20, 30))


def test_other_size_mismatches_are_still_resized():
    ev = DBDEvaluator(["br2net_maxf"])
    pred, _ = maps(12, 20)
    _, gt = maps(24, 40)
    ev.update(pred, gt)  # a smaller map of the same orientation is resized as before
    sq_pred, _ = maps(16, 16)
    _, sq_gt = maps(16, 16)
    ev.update(sq_pred, sq_gt)  # square: transposing changes nothing, nothing to refuse
    assert ev.compute()["br2net_maxf"]["n_images"] == 4


def test_check_batch_messages():
    pred, gt = maps(4, 6)
    with pytest.raises(ValueError, match="got 1 names for a batch of 2"):
        check_batch(pred, gt, ["only_one"])
    pred[1, 0, 0, 0] = 2.0
    with pytest.raises(ValueError, match=r"outside \[0, 1\] for image\(s\): b; pass sigmoid"):
        check_batch(pred, gt, ["a", "b"])
    with pytest.raises(ValueError, match=r"B x 1 x H x W or B x H x W, got \(2, 3, 4, 6\)"):
        as_maps(torch.rand(2, 3, 4, 6), "pred")
    assert as_maps(torch.rand(2, 4, 6, dtype=torch.float64), "pred").shape == (2, 1, 4, 6)
