"""Renderer extensions for transfer to real photographs: aperture PSFs, camera pipeline, highlights,
background focus and photo-texture crops. Each must change the image only as intended and keep labels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dbdzoo.data import DataError
from dbdzoo.data.synthetic import render_defocus
from dbdzoo.data.synthetic.aperture import aperture_blur, aperture_kernel
from dbdzoo.data.synthetic.camera import CameraConfig, apply_camera, jpeg_round_trip
from dbdzoo.data.synthetic.dataset import SyntheticDefocusDataset, load_texture_pool

KW = dict(generator=3, scene={"shapes": (2, 4)})


@pytest.mark.parametrize("blades", [0, 5, 8])
def test_aperture_kernel_is_normalised_with_the_coc_diameter(blades):
    k = aperture_kernel(2.0, blades, 0.3)  # σ 2 ↔ CoC 9 px
    assert k.shape == (11, 11) and abs(float(k.sum()) - 1.0) < 1e-6
    support = (k > 0).any(dim=0).nonzero().flatten()
    assert 8 <= int(support[-1] - support[0]) + 1 <= 10
    if blades == 0:
        assert torch.allclose(k, k.flip(0)) and torch.allclose(k, k.T)  # a disc is symmetric
    else:
        assert not torch.allclose(k, aperture_kernel(2.0, 0, 0.0), atol=1e-4)  # the iris shows


def test_fft_aperture_blur_equals_direct_convolution():
    x = torch.rand(2, 4, 23, 31, generator=torch.Generator().manual_seed(0))
    k = aperture_kernel(1.5, 6, 0.2)
    r = (k.shape[-1] - 1) // 2
    direct = F.conv2d(F.pad(x, (r,) * 4, mode="replicate"), k.flip(0, 1).expand(4, 1, -1, -1), groups=4)
    assert torch.allclose(aperture_blur(x, 1.5, 6, 0.2), direct, atol=1e-5)


def test_psf_and_camera_change_the_image_but_never_the_labels():
    clean = render_defocus(3, 40, 56, **KW)
    real = render_defocus(3, 40, 56, psf=["disc", "polygon"], camera=True, highlights=1.0, **KW)
    for key in ("mask", "defocus", "depth"):
        assert torch.equal(clean[key], real[key])
    assert (clean["image"] - real["image"]).abs().mean() > 0.01
    assert float(real["image"].min()) >= 0.0 and float(real["image"].max()) <= 1.0


def test_extras_keep_batches_equal_to_single_renders():
    extras = dict(psf=["gaussian", "disc", "polygon"], camera={"jpeg_prob": 0.0}, highlights=0.5, **KW)
    batch = render_defocus(3, 32, 32, **extras)
    for i in range(3):
        one = render_defocus(1, 32, 32, first_index=i, **extras)
        assert torch.allclose(one["image"][0], batch["image"][i], atol=1e-5)


def test_focus_background_makes_the_plane_sharp_and_the_foreground_blurred():
    out = render_defocus(4, 48, 48, focus_background=1.0, generator=5, scene={"plane_tilt": 0.0})
    for b in range(4):
        plane = out["depth"][b] >= out["depth"][b].amax() * 0.999
        assert float(out["mask"][b][plane].max()) == 0.0  # the fronto-parallel background is in focus
    assert float(out["mask"].mean()) > 0  # something nearer is out of focus


def test_camera_pipeline_is_seeded_and_can_be_switched_off():
    img = torch.rand(3, 24, 24, generator=torch.Generator().manual_seed(1))
    cfg = CameraConfig(prob=1.0)
    assert torch.equal(apply_camera(img, cfg, 7), apply_camera(img, cfg, 7))
    assert not torch.equal(apply_camera(img, cfg, 7), apply_camera(img, cfg, 8))
    assert torch.equal(apply_camera(img * 1.5, CameraConfig(prob=0.0), 7), (img * 1.5).clamp(0, 1))
    jpg = jpeg_round_trip(img, 30)
    assert jpg.shape == img.shape and 0 < float((jpg - img).abs().mean()) < 0.3
    with pytest.raises(DataError, match="psf='bokeh'"):
        render_defocus(1, 16, 16, psf="bokeh")


def test_texture_pool_excludes_stems_and_crops_photos(tmp_path):
    from data_helpers import rgb, save_rgb

    for i, stem in enumerate(("sharp_a", "sharp_b", "soft")):
        save_rgb(tmp_path / f"{stem}.png", rgb(i, h=40, w=48))
    assert load_texture_pool(tmp_path, exclude=["soft"]).shape[0] == 2
    with pytest.raises(DataError, match="texture_exclude: nope not found"):
        load_texture_pool(tmp_path, exclude=["nope"])
    whole = SyntheticDefocusDataset(2, 32, texture_dir=tmp_path, scene={"texture_prob": 1.0})
    crops = SyntheticDefocusDataset(
        2, 32, texture_dir=tmp_path, scene={"texture_prob": 1.0, "texture_crop": (0.3, 0.5)}
    )
    assert not torch.equal(whole[0]["image"], crops[0]["image"])
