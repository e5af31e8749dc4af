"""Renderer physics, determinism and the synthetic dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dbdzoo.data import DataError, SyntheticDefocusDataset, create_dataset, render_defocus
from dbdzoo.data.synthetic import coc_px, gaussian_blur, sigma_from_coc, solve_f_number
from dbdzoo.data.synthetic.blur import push_pull_fill


def test_in_focus_point_is_sharp_and_sigma_grows_with_distance_from_focus():
    f, n, zf, m = 50.0, 2.0, 2000.0, 320 / 36
    assert float(coc_px(torch.tensor(zf), f, n, zf, m)) == 0.0
    assert float(sigma_from_coc(coc_px(torch.tensor(zf), f, n, zf, m))) == 0.0
    near = torch.linspace(5 * f, zf, 200, dtype=torch.float64)
    far = torch.linspace(zf, 1e6, 200, dtype=torch.float64)
    assert (coc_px(near, f, n, zf, m).diff() < 0).all()  # shrinks while approaching the focus plane
    assert (coc_px(far, f, n, zf, m).diff() > 0).all()  # grows beyond it
    # hand-computed: A = 25 mm, z = 4000: 25·50·2000 / (4000·1950) · m = 0.3205 mm · 8.889 px/mm
    assert float(coc_px(torch.tensor(4000.0), f, n, zf, m)) == pytest.approx(
        25 * 50 * 2000 / (4000 * 1950) * m
    )
    assert (
        float(sigma_from_coc(torch.tensor(29.0))) == 7.0 and float(sigma_from_coc(torch.tensor(29.0), 3)) == 3
    )


def test_solved_f_number_reaches_max_coc():
    n = solve_f_number(70, 1500, 400, 9000, 13.0, 10.0)
    top = coc_px(torch.tensor([400.0, 9000.0], dtype=torch.float64), 70, n, 1500, 10.0).max()
    assert float(top) == pytest.approx(13.0)


def _step(h=40, w=96):
    img = torch.full((1, 3, h, w), 0.2)
    img[..., w // 2 :] = 0.8
    return img


def test_step_edge_has_gaussian_10_90_width():
    h, w, z, zf, f, n = 40, 96, 3000.0, 1000.0, 50.0, 0.36
    out = render_defocus(
        1,
        h,
        w,
        images=_step(h, w),
        depths=torch.full((1, 1, h, w), z),
        focal_length=f,
        f_number=n,
        focus_distance=zf,
        max_sigma=10.0,
        sigma_step=0,
    )
    sigma = float(sigma_from_coc(coc_px(torch.tensor(z, dtype=torch.float64), f, n, zf, w / 36)))
    assert 2.5 < sigma < 4.5
    assert torch.allclose(out["defocus"], torch.full_like(out["defocus"], sigma), atol=1e-5)
    row = ((out["image"][0, 0, h // 2] - 0.2) / 0.6).double().numpy()
    x10, x90 = (np.interp(level, row, np.arange(w)) for level in (0.1, 0.9))
    assert x90 - x10 == pytest.approx(2.5631 * sigma, rel=0.03)  # 2·Φ⁻¹(0.9)·σ for a Gaussian-blurred step


def test_focus_plane_renders_unchanged():
    img = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = render_defocus(
        2, 32, 32, images=img, depths=torch.full((2, 1, 32, 32), 1500.0), focus_distance=1500.0
    )
    assert torch.allclose(out["image"], img, atol=1e-6)
    assert out["defocus"].max() == 0 and out["mask"].max() == 0


def test_occlusion_boundary_near_layer_bleeds_over_sharp_background():
    h, w = 32, 64
    img = _step(h, w)
    depth = torch.full((1, 1, h, w), 3000.0)
    depth[..., : w // 2] = 600.0  # near dark half in front of an in-focus bright half
    out = render_defocus(
        1, h, w, images=img, depths=depth, focal_length=50.0, focus_distance=3000.0, max_sigma=3.0
    )
    sigma = out["defocus"][0, 0]
    assert sigma[:, : w // 2].min() == 3.0 and sigma[:, w // 2 :].max() == 0.0
    row = out["image"][0, 0, h // 2]
    assert torch.isfinite(out["image"]).all()
    assert 0.25 < float(row[w // 2 + 1]) < 0.75  # the blurred near edge spills over the sharp side
    assert torch.allclose(row[w // 2 + 12 :], torch.full_like(row[w // 2 + 12 :], 0.8), atol=1e-4)


def test_mask_is_sigma_above_threshold_and_ranges():
    out = render_defocus(3, 48, 48, generator=1, blur_threshold=1.0)
    assert torch.equal(out["mask"], (out["defocus"] > 1.0).float())
    assert 0 < out["mask"].mean() < 1 and out["image"].min() >= 0 and out["image"].max() <= 1
    assert (out["defocus"] <= out["params"]["max_sigma"].view(-1, 1, 1, 1).float() + 1e-6).all()
    assert torch.allclose(out["defocus"] / 0.25, (out["defocus"] / 0.25).round())  # quantised as rendered


def test_deterministic_by_seed_and_batch_equals_per_sample():
    a = render_defocus(3, 40, 48, generator=7)
    b = render_defocus(3, 40, 48, generator=7)
    c = render_defocus(3, 40, 48, generator=8)
    assert all(torch.equal(a[k], b[k]) for k in ("image", "mask", "defocus", "depth"))
    assert not torch.equal(a["image"], c["image"])
    for i in range(3):
        one = render_defocus(1, 40, 48, generator=7, first_index=i)
        for k in ("image", "defocus", "mask", "depth"):
            assert torch.allclose(one[k][0], a[k][i], atol=1e-5), k
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(
        render_defocus(1, 24, 24, generator=g1)["image"], render_defocus(1, 24, 24, generator=g2)["image"]
    )


def test_blur_methods_agree_and_fill_closes_holes():
    x = torch.rand(2, 4, 20, 27, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(gaussian_blur(x, 2.3), gaussian_blur(x, 2.3, method="conv"), atol=1e-6)
    assert torch.allclose(gaussian_blur(x, 2.3).mean(), x.mean(), atol=0.02)
    color, cov = torch.full((1, 3, 16, 16), 0.5), torch.ones(1, 1, 16, 16)
    cov[..., 4:12, 4:12] = 0
    fill = push_pull_fill(color * cov, cov)
    assert torch.allclose(fill, torch.full_like(fill, 0.5), atol=1e-5)


def test_bad_renderer_input():
    with pytest.raises(DataError, match="depths were given without images"):
        render_defocus(1, 8, 8, depths=torch.ones(1, 1, 8, 8))
    with pytest.raises(DataError, match=r"images has shape \(1, 3, 8, 9\), expected \(1, 3, 8, 8\)"):
        render_defocus(1, 8, 8, images=torch.ones(1, 3, 8, 9))


def test_dataset_items_deterministic_splits_disjoint_and_registered():
    ds = create_dataset("synthetic", length=64, size=32, seed=0)
    assert isinstance(ds, SyntheticDefocusDataset) and len(ds) == 64
    item = ds[5]
    assert item["image"].shape == (3, 32, 32) and item["mask"].shape == (1, 32, 32)
    assert item["meta"]["dataset"] == "synthetic" and item["meta"]["orig_size"] == (32, 32)
    assert torch.equal(item["image"], ds[5]["image"]) and not torch.equal(item["image"], ds[6]["image"])
    val = create_dataset("synthetic", split="val", length=64, size=32, seed=0)
    assert not torch.equal(val[5]["image"], item["image"])
    with pytest.raises(IndexError):
        ds[64]
    stream = create_dataset("synthetic", length=None, size=32, seed=0)
    first = next(iter(stream))
    assert torch.equal(first["image"], ds[0]["image"])


def test_dataset_transform_keeps_sigma_and_mask_aligned():
    from dbdzoo.data import build_transform

    ds = create_dataset(
        "synthetic", length=4, size=32, seed=1, transform=build_transform("dmenet", 16, seed=0)
    )
    for i in range(2):
        item = ds[i]
        assert item["image"].shape == (3, 16, 16) and item["defocus"].shape == (1, 16, 16)
        assert torch.equal(item["mask"], (item["defocus"] > 0.5).float())  # crop/flip/rot90 keep alignment


def test_user_all_in_focus_images_with_depth_folder(tmp_path):
    from data_helpers import rgb, save_rgb

    for i in range(2):
        save_rgb(tmp_path / "aif" / f"im{i}.png", rgb(i, 24, 24))
        (tmp_path / "depth").mkdir(exist_ok=True)
        np.save(tmp_path / "depth" / f"im{i}.npy", np.full((24, 24), 2.0, np.float32))  # metres
    ds = create_dataset(
        "synthetic",
        length=3,
        size=24,
        image_dir=tmp_path / "aif",
        depth_dir=tmp_path / "depth",
        depth_scale=1000.0,
        focus_distance=2000.0,
    )
    item = ds[2]  # image 2 mod 2 = im0, entirely at the focus distance: rendered unchanged
    assert item["meta"]["source"] == "im0" and item["defocus"].max() == 0
    expected = torch.from_numpy(rgb(0, 24, 24)).permute(2, 0, 1).float() / 255
    assert torch.allclose(item["image"], expected, atol=1e-5)
    blurred = create_dataset(
        "synthetic",
        length=1,
        size=24,
        image_dir=tmp_path / "aif",
        depth_dir=tmp_path / "depth",
        depth_scale=1000.0,
        focus_distance=800.0,
        max_sigma=2.0,
    )[0]
    assert blurred["defocus"].min() > 0.5 and blurred["image"].std() < expected.std()
    with pytest.raises(DataError, match="depth_dir needs image_dir"):
        create_dataset("synthetic", length=1, depth_dir=tmp_path / "depth")


def test_label_units_and_max_coc_alias():
    from dbdzoo.data.synthetic import defocus_label

    sigma = torch.tensor([0.0, 1.25, 7.0])
    assert torch.allclose(defocus_label(sigma, "sigma_over_7"), sigma / 7)
    assert torch.allclose(
        defocus_label(sigma, "coc_over_15"), torch.tensor([1 / 15, 3.5 / 15, 1.0])
    )  # c=2σ+1
    out = render_defocus(2, 32, 32, generator=0, max_coc=13.0)  # σ_max = (13 - 1) / 4 = 3
    assert torch.allclose(out["params"]["max_sigma"], torch.tensor([3.0, 3.0], dtype=torch.float64))
    assert out["defocus"].max() == 3.0  # the extreme depth reaches max_sigma (solved aperture)
