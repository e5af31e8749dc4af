"""DME metrics (RTF / SYNDOF protocols) and unit conversions, on hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dbdzoo.metrics import (
    RTF_SIGMA_MAX,
    DMEEvaluator,
    Preset,
    coc_to_sigma,
    dmenet_to_sigma,
    rtf_radius_to_sigma,
    sigma_to_coc,
)
from dbdzoo.metrics.counting import quantise


def test_rtf_protocol_clip_normalise_crop():
    ev = DMEEvaluator("rtf")
    # image 1: pred sigma [0, 1.6375, 3.275, 5 (clipped to 3.275)] / 3.275 = [0, .5, 1, 1]; GT [0, 0, 1, 1]
    #   diff [0, .5, 0, 0] -> MSE .25/4 = .0625, MAE .5/4 = .125
    ev.update(torch.tensor([[[0.0, 1.6375], [3.275, 5.0]]]), torch.tensor([[[0.0, 0.0], [3.275, 3.275]]]))
    # image 2: pred 2x3 cropped to the GT's 2x2 -> [[.5, .5], [.5, .5]] vs 0 -> MSE .25, MAE .5
    ev.update(torch.full((1, 1, 2, 3), 1.6375), torch.zeros(1, 1, 2, 2))
    res = ev.compute()
    assert res["MSE"] == pytest.approx((0.0625 + 0.25) / 2)
    assert res["MAE"] == pytest.approx((0.125 + 0.5) / 2)
    assert res["n_images"] == 2


def test_syndof_protocol_divides_by_seven_and_honours_valid():
    ev = DMEEvaluator("syndof")
    # pred [7, 3.5], GT [0, 3.5] -> normalised [1, .5] vs [0, .5]; valid only on pixel 0 -> MSE = MAE = 1
    ev.update(torch.tensor([[[7.0, 3.5]]]), torch.tensor([[[0.0, 3.5]]]), valid=torch.tensor([[[1, 0]]]))
    ev.update(torch.ones(1, 1, 1, 2), torch.ones(1, 1, 1, 2), valid=torch.zeros(1, 1, 1, 2))  # skipped
    res = ev.compute()
    assert (res["MSE"], res["MAE"], res["n_images"], res["n_skipped"]) == (1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="bad.npy"):
        ev.update(torch.tensor([[[float("nan")]]]), torch.zeros(1, 1, 1), names=["bad.npy"])
    other = DMEEvaluator("syndof")
    other.update(torch.zeros(1, 1, 2), torch.zeros(1, 1, 2))
    assert ev.merge(other).compute()["MSE"] == pytest.approx(0.5)


def test_unit_conversions():
    assert RTF_SIGMA_MAX == 3.275
    assert dmenet_to_sigma(1.0) == 7.0 and dmenet_to_sigma(0.0) == 0.0  # max(0, (15y-1)/2)
    assert dmenet_to_sigma(0.2) == pytest.approx(1.0)  # (3 - 1)/2
    assert dmenet_to_sigma(torch.tensor([0.5]), units="sigma7").item() == 3.5
    assert sigma_to_coc(7.0) == 29.0 and coc_to_sigma(29.0) == 7.0 and coc_to_sigma(0.5) == 0.0
    assert np.allclose(coc_to_sigma(sigma_to_coc(np.array([0.0, 1.25, 3.0]))), [0.0, 1.25, 3.0])
    assert rtf_radius_to_sigma(0.5) == 0.3 and rtf_radius_to_sigma(6.0) == 3.275
    assert rtf_radius_to_sigma(2.6) == 1.375  # nearest radius 2.5
    assert rtf_radius_to_sigma(2.625) == 1.525  # midpoint rounds up to 2.75
    t = rtf_radius_to_sigma(torch.tensor([1.0, 9.0, 0.0]))
    assert torch.allclose(t, torch.tensor([0.65, 3.275, 0.3]))
    with pytest.raises(ValueError, match="'coc29'"):
        dmenet_to_sigma(0.5, units="coc29")  # type: ignore[arg-type]


def test_uint8_quantisation_recovers_8bit_maps_exactly():
    k = torch.arange(256, dtype=torch.float32)
    u8 = Preset(name="u", pred_scale="uint8")
    assert torch.equal(quantise(k / 255, u8), k)
    assert torch.equal(quantise(1 - k / 255, u8), 255 - k)  # the in-focus flip of an 8-bit map
    assert quantise(torch.tensor([0.99999, 0.5]), u8).tolist() == [254.0, 127.0]  # truncation, like np.uint8
