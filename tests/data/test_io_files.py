"""One σ-PNG encoding (``write_sigma_png``/``read_sigma_png``) and ``.npy`` files that are never unpickled."""

from __future__ import annotations

import numpy as np
import pytest

from dbdzoo.data.io import SIGMA_PNG_SCALE, DataError, read_npy, read_sigma_png, write_sigma_png


def test_sigma_png_round_trips_at_one_thousandth_of_a_pixel(tmp_path) -> None:
    sigma = np.array([[0.0, 0.0004, 0.0006, 1.2341], [7.0, 65.535, 80.0, -1.0]], np.float32)
    path = tmp_path / "sub" / "s_sigma.png"
    write_sigma_png(path, sigma)
    import cv2

    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and SIGMA_PNG_SCALE == 1000.0
    np.testing.assert_array_equal(raw, [[0, 0, 1, 1234], [7000, 65535, 65535, 0]])  # rounded, clipped
    np.testing.assert_allclose(read_sigma_png(path), raw / 1000.0, atol=1e-6)


def test_sigma_png_refuses_non_finite_maps_and_wrong_files(tmp_path) -> None:
    with pytest.raises(DataError, match=r"bad\.png: σ map has 1 non-finite pixel"):
        write_sigma_png(tmp_path / "bad.png", np.array([[1.0, np.nan]]))
    assert not (tmp_path / "bad.png").exists()
    import cv2

    cv2.imwrite(str(tmp_path / "eight.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match=r"eight\.png: expected a single-channel 16-bit PNG"):
        read_sigma_png(tmp_path / "eight.png")


def test_object_and_pickled_npy_give_one_line_naming_the_file(tmp_path, monkeypatch) -> None:
    import pickle

    path = tmp_path / "pred.npy"
    np.save(path, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(DataError) as info:
        read_npy(path)
    message = str(info.value)
    assert message.startswith(f"{path}: holds pickled/object data") and "\n" not in message
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(DataError, match=r"text\.npy: "):
        read_npy(tmp_path / "text.npy")
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    with pytest.raises(DataError, match=r"words\.npy: dtype <U1 is not a real numeric array"):
        read_npy(tmp_path / "words.npy")
    np.save(tmp_path / "ok.npy", np.eye(3, dtype=np.float32))
    np.testing.assert_array_equal(read_npy(tmp_path / "ok.npy"), np.eye(3))


def test_readers_load_npy_through_the_same_guard(tmp_path) -> None:
    from data_helpers import half_mask, rgb, save_gt, save_rgb

    from dbdzoo.data import create_dataset

    save_rgb(tmp_path / "images" / "a.png", rgb(0))
    save_gt(tmp_path / "masks" / "a.png", half_mask())
    (tmp_path / "sigma").mkdir()
    np.save(tmp_path / "sigma" / "a.npy", np.array([None], dtype=object), allow_pickle=True)
    ds = create_dataset("folder", tmp_path, split="all", positive="blur")
    with pytest.raises(DataError, match=r"sigma/a\.npy: holds pickled/object data"):
        ds[0]
