"""SYNDOF options that follow DMENet's loader: CoC < 1 kept as c/15, CoC values kept through a resize."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from data_helpers import rgb, save_rgb

from dbdzoo.data import build_transform, create_dataset
from dbdzoo.data.io import DataError
from dbdzoo.data.readers.syndof import decode_syndof_blur_map
from dbdzoo.metrics.defocus import sigma_to_dmenet

STEM = "MPI_1_1_f_50_fp_10_A_2"


def _syndof(tmp_path, stored: np.ndarray) -> None:
    root = tmp_path / "train" / "SYNDOF"
    save_rgb(root / "image" / f"{STEM}.png", rgb(0, *stored.shape))
    (root / "blur_map").mkdir(parents=True)
    cv2.imwrite(str(root / "blur_map" / f"{STEM}.png"), np.repeat(stored[..., None], 3, axis=2))


def test_coc_below_one_original_gives_dmenet_labels_c_over_15(tmp_path) -> None:
    stored = np.zeros((12, 16), np.uint16)  # 10 × CoC
    stored[:, 4:8], stored[:, 8:12], stored[:, 12:] = 5, 10, 35  # CoC 0, 0.5, 1.0, 3.5
    _syndof(tmp_path, stored)
    coc = stored[0, [0, 4, 8, 12]].astype(np.float32) / 10
    clamp = create_dataset("syndof", tmp_path, split="train", units="coc15")[0]
    original = create_dataset("syndof", tmp_path, split="train", units="coc15", coc_below_one="original")[0]
    np.testing.assert_allclose(original["defocus"][0, [0, 4, 8, 12]], (coc - 1) / 2, atol=1e-6)
    np.testing.assert_allclose(clamp["defocus"][0, [0, 4, 8, 12]], [0, 0, 0, 1.25], atol=1e-6)
    # DMENet's loader: label = CoC / 15 for every pixel, CoC < 1 included
    target = sigma_to_dmenet(torch.from_numpy(original["defocus"]), "coc15")
    np.testing.assert_allclose(target[0, [0, 4, 8, 12]].numpy(), coc / 15, atol=1e-6)
    clamped = sigma_to_dmenet(torch.from_numpy(clamp["defocus"]), "coc15")  # the documented default
    np.testing.assert_allclose(
        clamped[0, [0, 4, 8, 12]].numpy(), [1 / 15, 1 / 15, 1 / 15, 3.5 / 15], atol=1e-6
    )
    np.testing.assert_array_equal(original["mask"], clamp["mask"])  # blurred ⇔ CoC > 1 either way
    np.testing.assert_array_equal(clamp["mask"][0, [0, 4, 8, 12]], [0, 0, 0, 1])


@pytest.mark.parametrize("mode", ["scale", "keep"])
def test_sigma_on_resize(tmp_path, mode) -> None:
    _syndof(tmp_path, np.full((12, 16), 35, np.uint16))  # CoC 3.5 everywhere: σ 1.25
    transform = build_transform("dmenet", 24, seed=0)  # short side 12 ≤ 24: rescaled to 25×33, cropped
    ds = create_dataset(
        "syndof", tmp_path, split="train", units="coc15", transform=transform, sigma_on_resize=mode
    )
    item = ds[0]
    assert tuple(item["image"].shape[-2:]) == (24, 24)
    factor = math.sqrt((25 / 12) * (33 / 16)) if mode == "scale" else 1.0
    torch.testing.assert_close(item["defocus"], torch.full((1, 24, 24), 1.25 * factor), rtol=1e-5, atol=1e-5)
    untransformed = create_dataset("syndof", tmp_path, split="train", units="coc15", sigma_on_resize=mode)[0]
    np.testing.assert_allclose(untransformed["defocus"], 1.25, atol=1e-6)  # no transform: nothing to undo


@pytest.mark.parametrize(
    ("key", "value"), [("coc_below_one", "keep"), ("sigma_on_resize", "clip"), ("units", "coc29")]
)
def test_bad_option_names_the_key(tmp_path, key, value) -> None:
    _syndof(tmp_path, np.full((12, 16), 35, np.uint16))
    with pytest.raises(DataError, match=f"syndof: {key}={value!r}; expected one of"):
        create_dataset("syndof", tmp_path, split="train", **{key: value})
    if key != "sigma_on_resize":  # a reader option; the decoder has the other two
        with pytest.raises(DataError, match=key):
            decode_syndof_blur_map(np.zeros((2, 2), np.uint16), **{key: value})
