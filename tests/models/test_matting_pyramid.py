"""The matting pyramid on Levin's grid: ``downSmpIm`` and ``upSmpIm`` transcribed line by line (numpy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dbdzoo.models.classical.matting_pyramid import coarser, down2, up_smp


def _conv2_same(img: np.ndarray, filt: np.ndarray) -> np.ndarray:
    """MATLAB ``conv2(filt, filt', img, 'same')`` for a symmetric filter: zero padding."""
    r = len(filt) // 2
    pad = np.pad(img, r)
    rows = sum(f * pad[k : k + img.shape[0]] for k, f in enumerate(filt))
    return sum(f * rows[:, k : k + img.shape[1]] for k, f in enumerate(filt))


def _down_smp_im(img: np.ndarray) -> np.ndarray:
    """``downSmpIm(I, 2)``: filter [1 4 6 4 1]/16, keep I(3:2:end-2, 3:2:end-2) (1-based)."""
    return _conv2_same(img, np.array([1, 4, 6, 4, 1]) / 16)[2:-2:2, 2:-2:2]


def _up_smp_im(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``upSmpIm(I, size)`` with its default filtS = 1: samples on every second row, ends replicated."""
    fs = 1
    (h, w), (nh, nw) = img.shape, size
    i_d, i_u = (nh - 2 * h + 1) // 2, -(-(nh - 2 * h + 1) // 2)
    j_d, j_u = (nw - 2 * w + 1) // 2, -(-(nw - 2 * w + 1) // 2)
    n = np.zeros((nh + 2 * fs, nw + 2 * fs))
    rows, cols = n.shape
    one = lambda start, stop, step: np.arange(start, stop, step) - 1  # noqa: E731  MATLAB a:step:b → 0-based
    n[np.ix_(one(i_d + fs + 1, rows - i_u - fs + 1, 2), one(j_d + fs + 1, cols - j_u - fs + 1, 2))] = img
    n[one(i_d + fs - 1, 0, -2), :] = n[i_d + fs, :]
    n[one(rows - i_u - fs + 2, rows + 1, 2), :] = n[rows - i_u - fs - 1, :]
    n[:, one(j_d + fs - 1, 0, -2)] = n[:, [j_d + fs]]
    n[:, one(cols - j_u - fs + 2, cols + 1, 2)] = n[:, [cols - j_u - fs - 1]]
    return _conv2_same(n, np.array([1, 2, 1]) / 2)[fs:-fs, fs:-fs]


@pytest.mark.parametrize("size", [(480, 640), (427, 640), (13, 17), (12, 12), (31, 24)])
def test_down_and_up_follow_levins_grid(size: tuple[int, int]) -> None:
    img = np.random.default_rng(sum(size)).random(size)
    want = _down_smp_im(img)
    got = down2(torch.from_numpy(img)[None, None])[0, 0].numpy()
    assert got.shape == want.shape  # 480 rows → 238, not 240
    np.testing.assert_allclose(got, want, atol=1e-14)
    up = up_smp(torch.from_numpy(want)[None, None], size)[0, 0].numpy()
    np.testing.assert_allclose(up, _up_smp_im(want, size), atol=1e-14)


def test_binary_constraints_round_halves_up_as_matlab() -> None:
    # a window weighing exactly 128/256 of the [1 4 6 4 1]² filter: MATLAB's round gives 1, torch.round 0
    known = torch.zeros(1, 1, 9, 9, dtype=torch.float64)
    known[..., :, 3] = known[..., :, 5] = 1  # columns at taps 1 and 3 of the window centred on column 4
    blurred = down2(known)
    assert float(blurred[0, 0, 1, 1]) == 0.5
    _, s_known, _ = coarser(torch.zeros(1, 3, 9, 9, dtype=torch.float64), known, known)
    assert float(s_known[0, 0, 1, 1]) == 1.0
