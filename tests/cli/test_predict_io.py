"""The file side of ``dbdzoo predict``: the fast PNG encoder, the 8-bit map resize and the decode fast path."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from dbdzoo.cli import fast_png
from dbdzoo.cli.predict_io import decode, map_to_uint8, write_png


@pytest.mark.parametrize("shape", [(37, 53), (1, 9), (9, 1), (20, 31, 3), (1, 1, 3)])
def test_fast_png_round_trips_through_pillow(shape) -> None:
    array = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    array[..., :4] = 255  # wrap-around of the Up filter (0 - 255) included
    decoded = Image.open(io.BytesIO(fast_png.encode(array)))
    decoded.load()
    assert decoded.mode == ("L" if len(shape) == 2 else "RGB")
    np.testing.assert_array_equal(np.asarray(decoded), array)


def test_fast_png_refuses_what_it_does_not_encode_and_write_png_falls_back(tmp_path) -> None:
    deep = (np.arange(12 * 7, dtype=np.uint16).reshape(12, 7) * 700).astype(np.uint16)
    assert not fast_png.supported(deep) and not fast_png.supported(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"fast_png encodes uint8 H×W or H×W×3 arrays, got uint16 \(12, 7\)"):
        fast_png.encode(deep)
    write_png(tmp_path / "deep.png", deep)  # through Pillow
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "deep.png")).astype(np.uint16), deep)
    smooth = np.tile(np.arange(200, dtype=np.uint8), (150, 1))
    write_png(tmp_path / "smooth.png", smooth)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "smooth.png")), smooth)


def test_map_resized_in_8_bits_is_within_one_level_of_the_float_resize() -> None:
    g = torch.Generator().manual_seed(1)
    prob = F.avg_pool2d(torch.rand(1, 1, 43, 64, generator=g), 5, 1, 2)  # smooth, as network maps are
    prob[..., :5, :5] = 1.0  # saturated corner: no overshoot past 255
    for size in [(430, 640), (101, 77), (43, 64)]:
        got = map_to_uint8(prob[0], size)
        ref = F.interpolate(prob, size=size, mode="bilinear", align_corners=False)
        ref8 = torch.round(ref[0, 0].clamp(0, 1) * 255).to(torch.uint8).numpy()
        assert got.shape == size and got.dtype == np.uint8
        assert np.abs(got.astype(int) - ref8.astype(int)).max() <= 1
    np.testing.assert_array_equal(map_to_uint8(prob[0], (43, 64)), ref8)  # same size: exact quantisation


def test_decode_fast_path_matches_the_data_layer_reader(tmp_path) -> None:
    from dbdzoo.data.io import read_rgb_float

    rgb = np.random.default_rng(2).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb).save(tmp_path / "turned.jpg", exif=exif.tobytes(), quality=95)
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    grey16 = (np.arange(30 * 50, dtype=np.uint32).reshape(30, 50) * 40).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "deep.png")
    for name in ("turned.jpg", "palette.png", "deep.png"):
        arr, full = decode(tmp_path / name)
        assert arr.dtype == np.float32 and full == arr.shape[:2]
        np.testing.assert_allclose(arr, read_rgb_float(tmp_path / name), atol=1e-6)
    assert decode(tmp_path / "turned.jpg")[1] == (50, 30)  # EXIF-upright size
    assert len(np.unique(decode(tmp_path / "deep.png")[0])) > 256  # 16-bit precision kept
