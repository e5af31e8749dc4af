"""Ground-truth value ranges: 0/1, 0..255 and 0..65535 files read as what they mean, the rest refused.

Before, an 8-bit or 16-bit 0/1 mask and a 16-bit 0..255 mask were binarised at 127 into "no blur at all".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_helpers import rgb, save_rgb
from PIL import Image

from dbdzoo.data import create_dataset
from dbdzoo.data.check import main as check_main
from dbdzoo.data.io import DataError, read_gray


def _mask(h: int = 12, w: int = 16) -> np.ndarray:
    """Left 4 columns are the blurred class."""
    m = np.zeros((h, w), dtype=bool)
    m[:, :4] = True
    return m


def _save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)  # uint8 -> 8-bit L PNG, uint16 -> 16-bit I;16 PNG
    return path


CASES = {
    "8bit_0_255": (np.uint8, 255),
    "8bit_0_1": (np.uint8, 1),
    "16bit_0_1": (np.uint16, 1),
    "16bit_0_255": (np.uint16, 255),
    "16bit_full": (np.uint16, 65535),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_stored_range_reads_as_the_same_mask(tmp_path, case) -> None:
    dtype, white = CASES[case]
    path = _save(tmp_path / f"{case}.png", _mask().astype(dtype) * dtype(white))
    if dtype == np.uint16:
        assert Image.open(path).mode.startswith("I"), "the test must really write a 16-bit file"
    gray = read_gray(path)
    assert gray.dtype == np.uint8
    np.testing.assert_array_equal(gray, np.where(_mask(), 255, 0))


def test_a_reader_yields_the_blurred_region_from_a_0_1_mask(tmp_path) -> None:
    save_rgb(tmp_path / "images" / "a.png", rgb(0))
    _save(tmp_path / "masks" / "a.png", _mask().astype(np.uint16))  # 16-bit 0/1
    item = create_dataset("folder", tmp_path, split="all", positive="blur")[0]
    assert item["mask"].mean() == pytest.approx(0.25)  # was 0.0: "no blur at all"
    soft = create_dataset("folder", tmp_path, split="all", positive="blur", gt_threshold=None)[0]
    np.testing.assert_array_equal(soft["mask"], _mask().astype(np.float32))


def test_soft_16bit_full_range_keeps_its_grey_levels(tmp_path) -> None:
    ramp = np.linspace(0, 65535, 16).round().astype(np.uint16)[None].repeat(4, 0)
    gray = read_gray(_save(tmp_path / "soft.png", ramp))
    np.testing.assert_array_equal(gray[0], np.round(ramp[0] / 257).astype(np.uint8))


@pytest.mark.parametrize(
    ("values", "shown"),
    [((0, 1000), "{0, 1000}"), ((0, 4095), "{0, 4095}"), ((0, 300, 20000), "{0, 300, 20000}")],
)
def test_ambiguous_16bit_ranges_are_refused_naming_file_and_values(tmp_path, values, shown) -> None:
    arr = np.zeros((8, 8), np.uint16)
    for i, v in enumerate(values):
        arr[i] = v
    path = _save(tmp_path / "odd.png", arr)
    with pytest.raises(DataError, match="ambiguous ground-truth range") as info:
        read_gray(path)
    line = str(info.value)
    assert "\n" not in line and str(path) in line and shown in line


def test_the_checker_reports_an_ambiguous_ground_truth_as_a_problem(tmp_path, capsys) -> None:
    save_rgb(tmp_path / "images" / "a.png", rgb(0))
    _save(tmp_path / "masks" / "a.png", (_mask() * 1000).astype(np.uint16))
    code = check_main([str(tmp_path), "--dataset", "folder", "--split", "all", "--option", "positive=blur"])
    out = capsys.readouterr().out
    assert code == 1 and "FAILED" in out
    assert f"[problem] {tmp_path / 'masks' / 'a.png'}: ambiguous ground-truth range" in out
