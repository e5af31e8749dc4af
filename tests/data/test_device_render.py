"""The batched device renderer (``render_on: device``): seeding, resuming, contents, every option, the
statistics of the worker renderer, the JPEG model against OpenCV, and refused options. CPU, tiny sizes."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from dbdzoo.data import DataError
from dbdzoo.data.synthetic import DeviceRenderer, DeviceRenderStream, render_defocus, sample_seed
from dbdzoo.data.synthetic.aperture import aperture_blur
from dbdzoo.data.synthetic.blur import gaussian_blur
from dbdzoo.data.synthetic.camera import jpeg_round_trip
from dbdzoo.data.synthetic.dataset import load_texture_pool
from dbdzoo.data.synthetic.device_blur import GAUSSIAN, fft_blur, level_kernels
from dbdzoo.data.synthetic.device_draws import SampleDraws
from dbdzoo.data.synthetic.device_textures import crop_resize
from dbdzoo.data.synthetic.jpeg_dct import jpeg_dct

PHOTOREAL = dict(  # configs/data/synthetic_photoreal.yaml, smaller σ for tiny images
    max_sigma=[2.0, 6.0],
    psf=["gaussian", "disc", "polygon"],
    highlights=0.3,
    focus_background=0.15,
    camera={"prob": 0.9},
    scene={"texture_prob": 0.6, "texture_crop": [0.25, 1.0]},
)
LABELS = ("mask", "defocus", "depth")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from data_helpers import rgb, save_rgb

    folder = tmp_path_factory.mktemp("photos")
    for i, stem in enumerate(("sharp_a", "sharp_b", "sharp_c", "soft")):
        save_rgb(folder / f"{stem}.png", rgb(i, h=40, w=48))
    return folder


def _spec(photos, **over):
    spec = dict(name="synthetic", split="train", length=64, size=32, seed=0, texture_dir=str(photos))
    return {**spec, "texture_exclude": ["soft"], **PHOTOREAL, **over}


def _stream(spec, **kw):
    args = dict(batch_size=4, seed=0, rank=0, world_size=1, device="cpu")
    return DeviceRenderStream(spec, **{**args, **kw})


def _same(a: dict, b: dict, keys=("image", "defocus_valid", *LABELS)) -> bool:
    return all(torch.equal(a[k], b[k]) for k in keys)


def test_same_seed_same_batch_other_seed_or_rank_other_batch(photos):
    spec = _spec(photos)
    first = _stream(spec).batch(0)
    assert _same(first, _stream(spec).batch(0))
    for other in (_stream(spec, seed=1), _stream({**spec, "seed": 1}), _stream(spec, rank=1, world_size=2)):
        b = other.batch(0)
        assert not torch.equal(first["image"], b["image"]) and not torch.equal(first["defocus"], b["defocus"])


def test_iterate_resumes_at_any_micro_batch_even_inside_a_render_group(photos):
    stream = _stream(_spec(photos, length=8), batch_size=2, group=3)  # 4 steps per epoch, 3 per render
    it = stream.iterate(0)
    fresh = [next(it) for _ in range(7)]
    assert [e for e, _ in fresh] == [0, 0, 0, 0, 1, 1, 1] and stream.steps_per_epoch == 4
    for k in (1, 4, 5):
        epoch, batch = next(_stream(_spec(photos, length=8), batch_size=2, group=3).iterate(k))
        assert epoch == fresh[k][0] and _same(batch, fresh[k][1])
    assert fresh[1][1]["meta"]["index"] == [2, 3] and not torch.equal(
        fresh[0][1]["image"], fresh[1][1]["image"]
    )


def test_batch_has_the_worker_keys_shapes_dtypes_and_ranges(photos):
    spec = _spec(photos, size=[24, 40], length=20, fill_holes=True)  # fill_holes: user images only
    spec["root"] = spec.pop("texture_dir")  # the registry's alias
    stream = _stream(spec, batch_size=3, world_size=2)
    assert stream.batch_size == 3 and stream.steps_per_epoch == 3  # 20 // (3 × 2)
    b = stream.batch(1)
    assert set(b) == {"image", "mask", "defocus", "defocus_valid", "depth", "meta"}
    assert b["image"].shape == (3, 3, 24, 40) and all(b[k].shape == (3, 1, 24, 40) for k in LABELS)
    assert all(b[k].dtype == torch.float32 and b[k].device.type == "cpu" for k in (*LABELS, "image"))
    assert float(b["image"].min()) >= 0.0 and float(b["image"].max()) <= 1.0
    assert torch.equal(b["mask"], (b["defocus"] > 0.5).float()) and float(b["defocus"].max()) <= 6.0
    assert float(b["depth"].min()) >= 400.0 and torch.equal(b["defocus_valid"], torch.ones_like(b["mask"]))
    meta = b["meta"]
    assert meta["index"] == [6, 7, 8] and meta["name"][0] == "synthetic_train_0000006"
    assert all(len(v) == 3 for v in meta.values()) and meta["native_positive"] == ["blur"] * 3


def test_labels_depend_only_on_the_sample_not_on_batch_rank_or_group(photos):
    spec = _spec(photos)
    one = _stream(spec, batch_size=6, group=2).batch(0)
    ranks = [_stream(spec, batch_size=3, rank=r, world_size=2).batch(0) for r in (0, 1)]
    for key in LABELS:
        assert torch.equal(one[key], torch.cat([r[key] for r in ranks]))
    assert torch.equal(one["meta"]["f_number"], torch.cat([r["meta"]["f_number"] for r in ranks]))


def test_psf_camera_highlights_and_photos_change_the_image_never_the_labels(photos):
    pool = load_texture_pool(photos)
    keys = [sample_seed(3, j) for j in range(6)]
    clean = DeviceRenderer(32, 32).render(keys, 0)
    extras = {**PHOTOREAL, "max_sigma": 6.0, "focus_background": 0}  # background focus moves σ: not here
    real = DeviceRenderer(32, 32, pool=pool, **extras).render(keys, 0)
    plain = DeviceRenderer(32, 32, max_sigma=6.0).render(keys, 0)
    assert all(torch.equal(plain[k], real[k]) for k in LABELS)
    assert (plain["image"] - real["image"]).abs().mean() > 0.02
    assert not torch.equal(clean["defocus"], plain["defocus"])  # max_sigma does reach the labels
    crops = DeviceRenderer(32, 32, pool=pool, scene={"texture_prob": 1.0, "texture_crop": (0.3, 0.5)})
    assert (crops.render(keys, 0)["image"] - clean["image"]).abs().mean() > 0.02


def test_focus_background_makes_the_plane_sharp_and_the_foreground_blurred():
    r = DeviceRenderer(40, 40, focus_background=1.0, scene={"plane_tilt": 0.0})
    out = r.render([sample_seed(5, j) for j in range(6)], 0)
    plane = out["depth"] >= out["depth"].amax(dim=(1, 2, 3), keepdim=True) * 0.999
    assert float(out["mask"][plane].max()) == 0.0 and float(out["mask"].mean()) > 0


def test_fixed_lens_options_follow_the_thin_lens_physics():
    from dbdzoo.data.synthetic import coc_px, sigma_from_coc

    lens = dict(focal_length=50.0, f_number=2.0, focus_distance=1500.0, max_coc=21.0, sigma_step=0.5)
    r = DeviceRenderer(32, 48, blur_threshold=1.0, **lens)
    out = r.render([sample_seed(2, j) for j in range(4)], 0)
    assert set(out["params"]["f_number"].tolist()) == {2.0}
    assert set(out["params"]["max_sigma"].tolist()) == {5.0}  # max_coc 21 ↔ σ 5
    sigma = sigma_from_coc(coc_px(out["depth"].double(), 50.0, 2.0, 1500.0, 48 / 36.0), 5.0)
    expected = (torch.round(sigma / 0.5).clamp_max(10) * 0.5).float()
    assert float((expected != out["defocus"]).float().mean()) < 0.01  # float32 rounding at level edges
    assert torch.equal(out["mask"], (out["defocus"] > 1.0).float())
    lens = DeviceRenderer(16, 16, focal_lengths=[35.0], focal_weights=[1.0]).render([1, 2, 3], 0)["params"]
    assert set(lens["focal_length"].tolist()) == {35.0}


def test_batched_psfs_and_crops_equal_the_worker_operations():
    x = torch.rand(3, 4, 23, 31, generator=torch.Generator().manual_seed(0))
    for sigma in (0.5, 2.25, 6.0):
        k = level_kernels(
            sigma, {GAUSSIAN, 0, 6}, torch.tensor([GAUSSIAN, 0, 6]), torch.tensor([0.0, 0.0, 0.42])
        )
        ref = torch.cat(
            [gaussian_blur(x[:1], sigma), aperture_blur(x[1:2], sigma), aperture_blur(x[2:], sigma, 6, 0.42)]
        )
        assert torch.allclose(fft_blur(x, k), ref, atol=1e-5)
    pool = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    ref = F.interpolate(pool[1:, :, 5:22, 9:26].flip(-1), size=(24, 31), mode="bilinear", align_corners=False)
    t = torch.tensor
    out = crop_resize(
        pool.permute(0, 2, 3, 1).contiguous(), t([1]), t([17]), t([5]), t([9]), t([True]), 24, 31
    )
    assert torch.allclose(out, ref, atol=1e-5)


def test_draws_are_keyed_per_sample_and_uniform():
    keys = [sample_seed(0, j) for j in range(2000)]
    d = SampleDraws(keys, "cpu")
    u = d.uniform("a", 5)
    assert torch.equal(SampleDraws(keys[7:9], "cpu").uniform("a", 5), u[7:9])  # independent of the batch
    assert torch.equal(SampleDraws(keys, "cpu", plan={"b": (2,), "a": (5,)}).uniform("a", 5), u)
    assert not torch.equal(d.uniform("b", 5), u) and abs(float(u.mean()) - 0.5) < 0.01
    assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
    assert set(d.integers("k", 3, 6, 10).flatten().tolist()) == {3, 4, 5}


def test_jpeg_model_is_close_to_opencv():
    """Measured: 0.19–0.44 grey levels of 255 mean absolute difference to OpenCV (its own error: 2–6)."""
    images = render_defocus(4, 64, 64, generator=1, camera={"jpeg_prob": 0.0})["image"]
    for q in (50, 75, 95):
        cv = torch.stack([jpeg_round_trip(im, q) for im in images])
        model = jpeg_dct(images, q)
        gap, error = float((model - cv).abs().mean()), float((cv - images).abs().mean())
        assert gap < 1.5 / 255 and gap < 0.2 * error, (q, gap * 255, error * 255)
    mixed = jpeg_dct(images[:2], torch.tensor([50, 95]))  # per-sample quality in one call
    assert torch.equal(mixed[0], jpeg_dct(images[:1], 50)[0]) and torch.equal(
        mixed[1], jpeg_dct(images[1:2], 95)[0]
    )
    odd = torch.rand(1, 3, 21, 35, generator=torch.Generator().manual_seed(0))  # sizes off the 16-px grid
    assert jpeg_dct(odd, 80).shape == odd.shape


def _stats(out: dict) -> tuple[float, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Blur fraction, σ distribution over blurred pixels (4 bins), per-channel mean and std."""
    sigma = out["defocus"][out["mask"] > 0]
    hist = torch.bucketize(sigma, torch.tensor([2.0, 3.5, 5.0])).bincount(minlength=4).float() / sigma.numel()
    img = out["image"]
    return float(out["mask"].mean()), hist, img.mean((0, 2, 3)), img.std((0, 2, 3))


def _gaps(a, b) -> list[float]:
    return [abs(a[0] - b[0]), 0.5 * float((a[1] - b[1]).abs().sum()), float((a[2] - b[2]).abs().max()),
            float((a[3] - b[3]).abs().max())]  # fmt: skip


def test_statistics_match_the_worker_renderer(photos):
    """256 samples each at 24² with the photoreal options. Between seeds of either renderer the gaps
    stay below [0.04, 0.09, 0.022, 0.021]; a renderer with max σ 4 instead of 6, background focus 0.6 and
    highlights everywhere misses by [0.26, 0.21, 0.14]: the tolerances sit between the two."""
    tol = [0.08, 0.15, 0.06, 0.04]  # blur fraction, σ-histogram total variation, channel mean, channel std
    pool = load_texture_pool(photos, exclude=["soft"])
    opts = {**PHOTOREAL, "max_sigma": (2.0, 6.0)}
    worker = _stats(render_defocus(256, 24, 24, generator=11, textures=pool, **opts))
    keys = [sample_seed(12, j) for j in range(256)]
    device = _stats(DeviceRenderer(24, 24, pool=pool, **opts).render(keys, 0))
    gaps = _gaps(device, worker)
    assert all(g < t for g, t in zip(gaps, tol, strict=True)), gaps
    wrong = DeviceRenderer(
        24, 24, pool=pool, **{**opts, "max_sigma": (2.0, 4.0), "focus_background": 0.6, "highlights": 1.0}
    )
    missed = _gaps(_stats(wrong.render(keys, 0)), worker)
    assert all(g > t for g, t in zip(missed[:3], tol[:3], strict=True)), missed


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"image_dir": "x"}, "data.train.image_dir is not supported with render_on: device"),
        ({"transform": {"recipe": "flip"}}, "data.train.transform is not supported"),
        (
            {"max_sigmaa": 3},
            "data.train.max_sigmaa is unknown with render_on: device; did you mean max_sigma",
        ),
        ({"device": "cuda"}, "data.train.device is not supported with render_on: device (a worker option)"),
        ({"name": "cuhk"}, "synthetic dataset only"),
        ({"sigma_step": 0}, "sigma_step must be > 0"),
        ({"length": 3}, "less than one batch of 4"),
        ({"focal_length": 500.0}, "focal length 500.0 mm must be below"),
    ],
)
def test_refuses_what_it_does_not_support_in_one_line(photos, over, message):
    with pytest.raises(DataError, match=re.escape(message)) as err:
        _stream(_spec(photos, **over))
    assert "\n" not in str(err.value)
