"""HiFST (Golestaneh & Karam): the pieces match MATLAB's definitions and the maps match the published ones."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from classical_helpers import check_contract, half_blurred

import dbdzoo
from dbdzoo.models.classical.filters import domain_transform_rf, entropy_7x7
from dbdzoo.models.classical.hifst import dct_matrix, smallest_sorted

SHARED = Path(__file__).resolve().parents[2] / "../shared"


def test_dct_matrix_is_matlab_dctmtx() -> None:
    fft = pytest.importorskip("scipy.fft")
    np.testing.assert_allclose(dct_matrix(7).numpy(), fft.dct(np.eye(7), norm="ortho", axis=0), atol=1e-12)


def test_smallest_sorted_equals_topk_including_fallback_rows() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(300, 2000, generator=g) * torch.rand(300, 1, generator=g) * 10
    x[:, 1::3] = math.inf  # masked coefficients, as HiFST's bands have
    x[:5] += 100
    x[:5, ::8] -= 100  # rows where the strided sample is unrepresentative: fewer than k candidates
    x[5:10, ::2] = 0  # flat image regions: many ties at the threshold
    want = x.topk(117, -1, largest=False).values
    for use_numpy in (True, False):  # False: the torch path CUDA takes
        torch.testing.assert_close(smallest_sorted(x, 117, use_numpy=use_numpy), want, atol=0, rtol=0)


def test_entropy_filter_counts_256_bins_with_symmetric_padding() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 6, (9, 11)).astype(np.float64)  # few levels: repeated values in each window
    padded = np.pad(img, 3, mode="symmetric")  # numpy's "symmetric" is MATLAB's
    want = np.zeros_like(img)
    for y, x in np.ndindex(img.shape):
        p = np.bincount(padded[y : y + 7, x : x + 7].astype(int).ravel()) / 49
        want[y, x] = -(p[p > 0] * np.log2(p[p > 0])).sum()
    got = entropy_7x7(torch.from_numpy(img)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_recursive_filter_smooths_but_stops_at_guide_edges() -> None:
    flat = torch.zeros(1, 1, 16, 24, dtype=torch.float64)
    const = torch.full_like(flat, 0.7)
    torch.testing.assert_close(domain_transform_rf(const, flat, 15, 0.25), const)  # constants survive
    img = torch.rand(1, 1, 16, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    smooth = domain_transform_rf(img, flat, 15, 0.25)
    assert smooth.std() < 0.3 * img.std()  # no guide edges: a wide blur
    guide = flat.clone()
    guide[..., 12:] = 1
    step = torch.where(guide > 0, 1.0, 0.0).to(img)
    kept = domain_transform_rf(step, guide, 15, 0.25)
    assert kept[..., :11].max() < 0.01 and kept[..., 13:].min() > 0.99  # the edge is not crossed


def _half_blurred(h: int = 32, w: int = 40) -> np.ndarray:
    return half_blurred(h, w, kernel=9, passes=1)


@pytest.fixture(scope="module")
def hifst():
    return dbdzoo.create_model("hifst")


def test_contract_polarity_and_determinism(hifst) -> None:
    check_contract(hifst, _half_blurred(), sharp_until=14, blurred_from=26)


def test_dcts_run_in_full_fp32_even_when_the_caller_allows_tf32(hifst, monkeypatch) -> None:
    import dbdzoo.models.classical.hifst as module

    seen = []
    real = module.dct_matrix
    monkeypatch.setattr(
        module, "dct_matrix", lambda *a: seen.append(torch.get_float32_matmul_precision()) or real(*a)
    )
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")  # what a training script that enables TF32 does
    try:
        hifst.predict(_half_blurred())
        assert torch.get_float32_matmul_precision() == "high"  # the caller's choice is given back
    finally:
        torch.set_float32_matmul_precision(before)
    assert "highest" in seen  # the horizontal DCTs ran in full fp32 (the fp64 vertical one needs no switch)


def test_grey_and_rgba_inputs_as_the_networks_take_them(hifst) -> None:
    img = _half_blurred(20, 24)
    rgba = np.concatenate([img, np.full_like(img[..., :1], 255)], -1)
    np.testing.assert_array_equal(hifst.predict(rgba), hifst.predict(img))
    grey = img[..., 1]
    np.testing.assert_array_equal(hifst.predict(grey), hifst.predict(np.repeat(grey[..., None], 3, 2)))


def test_unsupported_settings_raise_one_line_errors() -> None:
    with pytest.raises(ValueError, match="stride=1, noise=0"):
        dbdzoo.create_model("hifst", noise=0.01)
    with pytest.raises(ValueError, match="odd"):
        dbdzoo.create_model("hifst", patch_sizes=(8, 16))


@pytest.mark.slow
def test_matches_the_published_map(tmp_path, hifst) -> None:
    name = "out_of_focus0045"  # the smallest CUHK-TR-1 image (420×279): ~10 s on one core
    image = SHARED / "data/cuhk-tr1/image" / f"{name}.jpg"
    published = SHARED / "baselines/hifst/maps_cuhk_tr1" / f"{name}.png"
    if not (image.is_file() and published.is_file()):
        pytest.skip(
            "needs ../shared (CUHK-TR-1 and the authors' published HiFST maps; not in the repository)"
        )
    from PIL import Image

    for src in (image, published):
        (tmp_path / src.name).write_bytes(src.read_bytes())
    sharp = 1 - hifst.predict(str(tmp_path / image.name))
    ref = np.asarray(Image.open(tmp_path / published.name).convert("L")) / 255.0
    assert np.abs(np.floor(sharp * 255 + 0.5) / 255 - ref).mean() < 1e-3  # the goal is 0.02


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (CPU = CUDA semantics check)")
def test_cuda_matches_cpu(hifst) -> None:
    x = torch.from_numpy(_half_blurred(24, 36)).permute(2, 0, 1)[None].float() / 255
    x = torch.cat([x, x.flip(-1)])
    cpu = hifst.sharpness(x)
    gpu = hifst.sharpness(x.cuda()).cpu()  # parameter-free: it computes on its input's device
    assert (gpu - cpu).abs().mean() < 1e-4 and (gpu - cpu).abs().max() < 1e-2
