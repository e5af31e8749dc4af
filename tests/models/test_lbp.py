"""LBP (Yi & Eramian): the sharpness metric equals the authors' code, and the method keeps the contract.

The oracle numbers in ``lbp_reference.json`` come from the authors' own ``lbpSharpness.py`` run by
``make_lbp_reference.py`` (see there to regenerate); the inputs are rebuilt from ``lbp_cases.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from classical_helpers import check_contract, half_blurred
from lbp_cases import CUHK_IMAGE, SCALES, THRESHOLD, synthetic_cases

import dbdzoo
from dbdzoo.models.classical.base import MATLAB_GREY, matlab_grey
from dbdzoo.models.classical.lbp_parts import cv_grey, lbp_sharpness, lbp_sharpness_matlab
from dbdzoo.models.classical.matting import solve_cg, solve_direct

REF = json.loads(Path(__file__).with_name("lbp_reference.json").read_text())
SHARED = Path(__file__).resolve().parents[2] / "../shared"


def _counts(rgb: np.ndarray, s: int) -> np.ndarray:
    levels = torch.from_numpy(rgb.astype(np.float64)).permute(2, 0, 1)[None]
    return np.rint(lbp_sharpness(cv_grey(levels), s, THRESHOLD)[0, 0].numpy() * s * s).astype(np.int64)


@pytest.mark.parametrize("name", sorted(synthetic_cases()))
def test_sharpness_equals_the_authors_python(name: str) -> None:
    rgb = synthetic_cases()[name]
    for s in SCALES:
        np.testing.assert_array_equal(_counts(rgb, s), np.array(REF["synthetic"][name][str(s)]))


def test_grey_matches_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    rgb = synthetic_cases()["noise"]
    ours = cv_grey(torch.from_numpy(rgb.astype(np.float64)).permute(2, 0, 1)[None])[0, 0].numpy()
    np.testing.assert_array_equal(ours, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def test_sharpness_on_a_cuhk_photo_equals_the_authors(tmp_path) -> None:
    src = SHARED / "data/cuhk-tr1/image" / f"{CUHK_IMAGE}.jpg"
    if not src.is_file() or "cuhk" not in REF:
        pytest.skip("needs ../shared/data/cuhk-tr1 (development data, not in the repository)")
    from PIL import Image

    (tmp_path / src.name).write_bytes(src.read_bytes())
    rgb = np.asarray(Image.open(tmp_path / src.name).convert("RGB"))
    for s in SCALES:
        c = _counts(rgb, s)
        assert int(c.sum()) == REF["cuhk"][str(s)]["sum"]
        assert hashlib.sha256(c.tobytes()).hexdigest() == REF["cuhk"][str(s)]["sha256"]


def _half_blurred(h: int = 40, w: int = 48) -> np.ndarray:
    return half_blurred(
        h, w, kernel=15, passes=2
    )  # strong defocus: the LBP map is ~0 there, as in real photos


@pytest.fixture(scope="module")
def lbp_model():
    return dbdzoo.create_model("lbp", bp_iterations=30)


def test_contract_polarity_and_determinism(lbp_model) -> None:
    prob, out = check_contract(lbp_model, _half_blurred(), sharp_until=18, blurred_from=30)
    torch.testing.assert_close(torch.sigmoid(out.logits[:1])[0, 0].numpy(), prob, atol=1e-5, rtol=0)


def test_grey_and_rgba_inputs_as_the_networks_take_them(lbp_model) -> None:
    img = _half_blurred(24, 28)
    grey = img[..., 0]
    rgba = np.concatenate([img, np.full_like(img[..., :1], 255)], -1)
    np.testing.assert_array_equal(lbp_model.predict(rgba), lbp_model.predict(img))
    np.testing.assert_array_equal(
        lbp_model.predict(grey), lbp_model.predict(np.repeat(grey[..., None], 3, 2))
    )


def test_constant_and_outlier_alpha_maps_give_finite_beliefs(monkeypatch) -> None:
    model = dbdzoo.create_model("lbp", bp_iterations=5)
    alpha = torch.ones(1, 1, 200, 200, dtype=torch.float64)
    monkeypatch.setattr(model, "alpha_maps", lambda rgb: [alpha, alpha, alpha])
    # all constraints sharp: the exact matting is 1 up to rounding (std ~1e-12, a CUHK photo did this);
    # standardised, that noise would decide the map: α is kept, and the whole image is sharp
    maps = []
    for seed in (0, 1):
        noise = torch.randn(alpha.shape, generator=torch.Generator().manual_seed(seed), dtype=alpha.dtype)
        alpha.fill_(1).add_(noise, alpha=1e-12)
        maps.append(model.in_focus(torch.zeros(1, 3, 200, 200)))
    assert float(maps[0].min()) > 0.5
    torch.testing.assert_close(maps[0], maps[1], atol=1e-6, rtol=0)
    # one pixel off: standardised it lies ~200 deviations out, where exp(−|x|) is 0 in fp32; the node
    # odds are formed from the exponents and stay finite
    alpha.fill_(1)[..., 0, 0] = 0
    p = model.in_focus(torch.zeros(1, 3, 200, 200))
    assert torch.isfinite(p).all() and float(p.min()) > 0 and float(p.max()) < 1


def test_bad_options_raise_one_line_errors() -> None:
    with pytest.raises(ValueError, match="three odd window sizes"):
        dbdzoo.create_model("lbp", scales=(11, 15))
    with pytest.raises(ValueError, match="'matlab', 'python' or 'cpp'"):
        dbdzoo.create_model("lbp", code="mex")
    with pytest.raises(ValueError, match="matting_solver must be 'auto', 'direct' or 'cg', got 'lu'"):
        dbdzoo.create_model("lbp", matting_solver="lu")
    with pytest.raises(ValueError, match="bp_precision must be 'fp32' or 'fp64', got 'mixed'"):
        dbdzoo.create_model("lbp", bp_precision="mixed")
    for bad in ("fast", -1e-7, True, float("nan")):
        with pytest.raises(ValueError, match="bp_settle must be 'auto' or a number ≥ 0, got"):
            dbdzoo.create_model("lbp", bp_settle=bad)


def test_fp32_settle_stop_keeps_the_map() -> None:
    # the default fp32 fusion stops once its messages settle; the map is the one all sweeps give, to
    # fp32 rounding, and UGM's fp64 run's
    x = torch.from_numpy(_half_blurred(48, 64)).permute(2, 0, 1)[None].float() / 255
    settled = dbdzoo.create_model("lbp").in_focus(x)
    every_sweep = dbdzoo.create_model("lbp", bp_settle=0).in_focus(x)
    ugm = dbdzoo.create_model("lbp", bp_precision="fp64").in_focus(x.double())
    torch.testing.assert_close(settled, every_sweep, atol=5e-6, rtol=0)
    torch.testing.assert_close(settled.double(), ugm, atol=5e-6, rtol=0)


def _authors_laplacian(img: np.ndarray, known: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """``getLaplacian1.m`` built densely: 3×3 windows, skipping those whose nine pixels are all known."""
    h, w, _ = img.shape
    idx = np.arange(h * w).reshape(h, w)
    a = np.zeros((h * w, h * w))
    for i, j in np.ndindex(h - 2, w - 2):
        if known[i : i + 3, j : j + 3].all():
            continue
        win = img[i : i + 3, j : j + 3].reshape(9, 3)
        mu = win.mean(0)
        inv = np.linalg.inv(win.T @ win / 9 - np.outer(mu, mu) + eps / 9 * np.eye(3))
        d = win - mu
        ids = idx[i : i + 3, j : j + 3].ravel()
        a[np.ix_(ids, ids)] += (1 + d @ inv @ d.T) / 9
    return np.diag(a.sum(1)) - a


def test_matting_solves_the_authors_sparse_system() -> None:
    rng = np.random.default_rng(5)
    h, w = 12, 15
    img = rng.random((2, h, w, 3))
    known = rng.random((2, 3, h, w)) > 0.4
    known[:, :, :6, :8] = True  # a fully constrained block: its windows leave the Laplacian (getLaplacian1)
    known[1, 2] = False  # no constraint at all: no unique solution, 0.5 (CG's start there)
    vals = (rng.random((2, 3, h, w)) > 0.5) * known
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))  # noqa: E731
    args = t(img).permute(0, 3, 1, 2), t(known), t(vals)  # two images, three constraint maps each
    direct, cg = solve_direct(*args).numpy(), solve_cg(*args, 200).numpy()
    for b, s in np.ndindex(2, 3):
        if known[b, s].any():
            lap = _authors_laplacian(img[b], known[b, s])
            a = lap + 100 * np.diag(known[b, s].ravel())
            want = np.clip(np.linalg.solve(a, 100 * vals[b, s].ravel()), 0, 1).reshape(h, w)
        else:
            want = np.full((h, w), 0.5)
        np.testing.assert_allclose(direct[b, s], want, atol=1e-12)
        np.testing.assert_allclose(cg[b, s], want, atol=1e-9)


def test_matting_solvers_agree_in_the_pipeline() -> None:
    x = torch.from_numpy(_half_blurred(40, 52)).permute(2, 0, 1)[None].float() / 255
    maps = {s: dbdzoo.create_model("lbp", matting_solver=s).alpha_maps(x) for s in ("direct", "cg", "auto")}
    for d, c, a in zip(maps["direct"], maps["cg"], maps["auto"], strict=True):
        torch.testing.assert_close(c, d, atol=1e-6, rtol=0)  # CG runs to its tolerance
        torch.testing.assert_close(a, d, atol=0, rtol=0)  # "auto" is the direct solve on the CPU
    few = dbdzoo.create_model("lbp", matting_solver="cg", matting_iterations=3).alpha_maps(x)
    assert max(float((f - d).abs().max()) for f, d in zip(few, maps["direct"], strict=True)) > 1e-3


def _lbp_sharpness_m(grey: np.ndarray, s: int, threshold: float) -> np.ndarray:
    """``lbpSharpness.m`` + ``lbpCode.m`` transcribed loop by loop (8-bit levels, floored interpolation)."""
    o = math.sqrt(2) / 2
    p = np.pad(grey.astype(np.float64), 1, mode="edge")
    h, w = grey.shape
    at = lambda dy, dx: p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]  # noqa: E731
    c = at(0, 0)
    diag = lambda a, b, d: np.floor((1 - o) * ((1 - o) * c + o * a) + o * ((1 - o) * b + o * d))  # noqa: E731
    ring = [at(0, 1), diag(at(0, 1), at(-1, 0), at(-1, 1)), at(-1, 0), diag(at(0, -1), at(-1, 0), at(-1, -1))]
    ring += [at(0, -1), diag(at(0, -1), at(1, 0), at(1, -1)), at(1, 0), diag(at(0, 1), at(1, 0), at(1, 1))]
    bits = [(n - c - threshold * 255 > 0).astype(int) for n in ring]
    u = sum(abs(bits[k] - bits[k - 1]) for k in range(8))
    code = np.where(u > 2, 9, sum(bits))
    r = (s - 1) // 2
    pad = np.pad(code, r, mode="edge")
    out = np.array([[(pad[y : y + s, x : x + s] >= 6).sum() / s**2 for x in range(w)] for y in range(h)])
    return (out - out.min()) / (out.max() - out.min())


def test_matlab_sharpness_follows_lbpsharpness_m() -> None:
    rgb = synthetic_cases()["ramp_half_noisy"]
    levels = torch.from_numpy(rgb.astype(np.float64)).permute(2, 0, 1)[None]
    grey = matlab_grey(levels)
    want_grey = np.floor(rgb.astype(np.float64) @ np.array(MATLAB_GREY) + 0.5)
    np.testing.assert_array_equal(grey[0, 0].numpy(), want_grey)
    for s in SCALES:
        got = lbp_sharpness_matlab(grey, s, THRESHOLD)[0, 0].numpy()
        np.testing.assert_allclose(got, _lbp_sharpness_m(want_grey, s, THRESHOLD), atol=1e-12)


def _lbp_sharpness_cpp(rgb: np.ndarray, s: int, threshold: float) -> np.ndarray:
    """``lbpSharpness.cpp`` transcribed: uchar arithmetic, (s − 1)² integral window, NORM_MINMAX to uchar."""
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    grey = (r * 1868 + g * 9617 + b * 4899 + (1 << 13)) >> 14  # CV_BGR2GRAY (OpenCV 3) on MATLAB's RGB
    p = np.pad(grey, 1, mode="edge").astype(np.float64)
    h, w = grey.shape
    at = lambda dy, dx: p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]  # noqa: E731
    q = math.sqrt(2) / 2
    gc, g0, g2, g4, g6 = at(0, 0), at(0, 1), at(-1, 0), at(0, -1), at(1, 0)

    def inter(side: np.ndarray, corner: np.ndarray, vert: np.ndarray) -> np.ndarray:
        return np.trunc((1 - q) * (q * side + (1 - q) * gc) + q * (q * corner + (1 - q) * vert))  # to uchar

    ring = [g0, inter(g0, at(-1, 1), g2), g2, inter(g4, at(-1, -1), g2)]
    ring += [g4, inter(g4, at(1, -1), g6), g6, inter(g0, at(1, 1), g6)]
    sign = [(n - gc > int(threshold * 255)).astype(int) for n in ring]
    uniformity = sum(abs(sign[k] - sign[k - 1]) for k in range(8))
    code = np.where(uniformity <= 2, sum(sign), 9)
    pad = np.pad(code, (s - 1) // 2, mode="edge")
    blur = np.array(
        [[(pad[y : y + s - 1, x : x + s - 1] >= 6).sum() / s**2 for x in range(w)] for y in range(h)]
    )
    scale = 255 * (1.0 / (blur.max() - blur.min()))  # cv::normalize's NORM_MINMAX, operation for operation
    shift = 0 - blur.min() * scale
    return np.rint(blur * scale + shift) / 255  # saturate_cast<uchar> rounds half to even


def test_cpp_sharpness_follows_lbpsharpness_cpp() -> None:
    rgb = synthetic_cases()["ramp_half_noisy"]
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    maps = dbdzoo.create_model("lbp", code="cpp").sharpness_maps(x)
    for s, got in zip(SCALES, maps, strict=True):
        np.testing.assert_allclose(got[0, 0].numpy(), _lbp_sharpness_cpp(rgb, s, THRESHOLD), atol=1e-12)


def test_pipeline_sharpness_is_the_per_scale_function_for_both_codes() -> None:
    rgb = synthetic_cases()["ramp_half_noisy"]
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    levels = torch.from_numpy(rgb.astype(np.float64)).permute(2, 0, 1)[None]
    for code, grey, single in (
        ("matlab", matlab_grey(levels), lbp_sharpness_matlab),
        ("python", cv_grey(levels), lbp_sharpness),
    ):
        maps = dbdzoo.create_model("lbp", code=code).sharpness_maps(x)
        for s, got in zip(SCALES, maps, strict=True):
            torch.testing.assert_close(got, single(grey, s, THRESHOLD), atol=0, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (CPU = CUDA semantics check)")
def test_cuda_matches_cpu(lbp_model) -> None:
    x = torch.from_numpy(_half_blurred()).permute(2, 0, 1)[None].float() / 255
    x = torch.cat([x, x.flip(-1)])
    torch.testing.assert_close(lbp_model.sharpness_maps(x.cuda())[0].cpu(), lbp_model.sharpness_maps(x)[0])
    cg = dbdzoo.create_model("lbp", matting_solver="cg", matting_iterations=50, bp_iterations=30)
    gpu = cg.in_focus(x.cuda()).cpu()  # parameter-free: it computes on its input's device
    torch.testing.assert_close(gpu, cg.in_focus(x), atol=1e-4, rtol=0)  # the same solver on both
    auto = dbdzoo.create_model("lbp", bp_iterations=30)  # CG to its tolerance on CUDA, the direct solve here
    torch.testing.assert_close(auto.in_focus(x.cuda()).cpu(), auto.in_focus(x), atol=1e-4, rtol=0)
    direct = dbdzoo.create_model(
        "lbp", matting_solver="direct", bp_iterations=30
    )  # the host's LU for CUDA input
    torch.testing.assert_close(direct.in_focus(x.cuda()).cpu(), direct.in_focus(x), atol=1e-5, rtol=0)
