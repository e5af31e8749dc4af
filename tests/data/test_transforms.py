"""Paired transforms keep image, mask and σ aligned and scale σ with the image."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dbdzoo.data import DataError, build_transform


def _item(h, w, sigma=2.0, seed=0):
    rng = np.random.default_rng(seed)
    mask = (rng.random((h, w)) > 0.5).astype(np.float32)
    image = np.repeat((mask * 255).astype(np.uint8)[..., None], 3, axis=2)
    return {
        "image": image,
        "mask": mask,
        "defocus": mask * np.float32(sigma),
        "defocus_valid": np.ones((h, w), np.float32),
        "meta": {"name": "x"},
    }


@pytest.mark.parametrize("recipe,size", [("dmenet", 16), ("zhao320", 24)])
def test_geometric_ops_keep_targets_aligned(recipe, size):
    tf = build_transform(recipe, size, seed=3, **({"rot90": (0, 1, 2)} if recipe == "zhao320" else {}))
    for seed in range(4):
        out = tf(_item(24, 24, seed=seed))
        assert out["image"].shape == (3, size, size) and out["mask"].shape == (1, size, size)
        assert out["image"].dtype == torch.float32 and 0 <= out["image"].min() <= out["image"].max() <= 1
        if recipe == "zhao320":  # no rescale at 24 -> nearest: exact equality everywhere
            assert torch.equal(out["mask"][0], (out["image"][0] > 0.5).float())
            assert torch.allclose(out["defocus"], 2.0 * out["mask"])


def test_br2net_crop_flip_rotation():
    tf = build_transform("br2net", 20, seed=0)
    out = tf(_item(16, 24))  # short side 16 < 20: scaled up, then cropped to 20
    assert out["image"].shape == (3, 20, 20)
    assert set(out["mask"].unique().tolist()) <= {0.0, 1.0}  # nearest for masks under rotation
    no_rot = build_transform("br2net", 20, seed=0, rotate=0)(_item(40, 40))
    assert torch.equal(no_rot["mask"][0], (no_rot["image"][0] > 0.5).float())


def test_sigma_rescaled_in_value_and_interpolated_linearly():
    item = _item(16, 20)
    item["defocus"] = np.full((16, 20), 2.0, np.float32)
    out = build_transform("dmenet", 24, seed=0)(item)  # short side 16 <= 24: ratio 1.5 -> 25 x 31
    expected = 2.0 * math.sqrt((25 / 16) * (31 / 20))
    assert torch.allclose(out["defocus"], torch.full_like(out["defocus"], expected), atol=1e-5)
    ramp = _item(40, 40)
    ramp["defocus"] = np.tile(np.linspace(0, 4, 40, dtype=np.float32), (40, 1))
    half = build_transform("eval_resize", 20)(ramp)["defocus"][0, 0]
    # bilinear (not nearest: 20 distinct values) and ×0.5: the last output averages inputs 3.897 and 4.0
    assert half.unique().numel() == 20 and abs(float(half.max()) - 0.5 * (3.897 + 4.0) / 2) < 0.01
    assert torch.allclose(half[1:] - half[:-1], torch.full((19,), (half[1] - half[0]).item()), atol=1e-4)


def test_zhao_nearest_image_option():
    item = _item(30, 30)
    item["image"] = np.random.default_rng(0).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    near = build_transform("zhao320", 20, hflip=False)(item)["image"]
    assert set((near * 255).round().unique().tolist()) <= set(item["image"].flatten().tolist())
    lin = build_transform("zhao320", 20, hflip=False, interpolation="bilinear")(item)["image"]
    assert not torch.equal(near, lin)


def test_seeded_pipelines_reproduce_and_reseed():
    a, b = build_transform("dmenet", 16, seed=5), build_transform("dmenet", 16, seed=5)
    outs_a = [a(_item(40, 40))["image"] for _ in range(3)]
    outs_b = [b(_item(40, 40))["image"] for _ in range(3)]
    assert all(torch.equal(x, y) for x, y in zip(outs_a, outs_b, strict=True))
    b.set_random_seed(6)
    assert not all(torch.equal(x, b(_item(40, 40))["image"]) for x in outs_a)


def test_native_keeps_size_and_bad_options_raise():
    out = build_transform("eval_native")(_item(13, 17))
    assert out["image"].shape == (3, 13, 17) and out["meta"] == {"name": "x"}
    with pytest.raises(DataError, match="unknown transform recipe 'foo'"):
        build_transform("foo")
    with pytest.raises(DataError, match="unexpected option"):
        build_transform("br2net", hflipp=True)


def test_collate_keeps_meta_per_item():
    from dbdzoo.data import collate

    tf = build_transform("eval_resize", 8)
    batch = collate(
        [tf({**_item(10, 12, seed=i), "meta": {"name": str(i), "orig_size": (10, 12)}}) for i in range(2)]
    )
    assert batch["image"].shape == (2, 3, 8, 8) and batch["mask"].shape == (2, 1, 8, 8)
    assert batch["meta"] == {"name": ["0", "1"], "orig_size": [(10, 12), (10, 12)]}
