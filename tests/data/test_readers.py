"""Pairing, counts, polarity and split membership of every reader on miniature real layouts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from data_helpers import half_mask, rgb, save_gt, save_rgb
from scipy.io import savemat

from dbdzoo.data import ComposedDataset, DataError, create_dataset, list_datasets, load_split_list


def test_registry_lists_every_reader():
    assert set(list_datasets()) >= {
        "cuhk",
        "dut",
        "zhao320",
        "ctcug",
        "ebd",
        "syndof",
        "rtf",
        "folder",
        "unlabelled",
        "synthetic",
    }


def test_cuhk_btbnet_split_counts_order_and_polarity(cuhk_root):
    test = create_dataset("cuhk", cuhk_root, split="test")
    assert [s.name for s in test.samples] == list(load_split_list("cuhk_btbnet_test"))
    assert len(test) == 100
    train = create_dataset("cuhk", cuhk_root, split="train")
    assert sorted(s.name for s in train.samples) == sorted(
        f"out_of_focus{n:04d}" for n in (1, 2, 3, 80, 88, 704)
    )
    assert not {s.name for s in train.samples} & {s.name for s in test.samples}
    assert len(create_dataset("cuhk", cuhk_root, split="all")) == 106
    assert len(create_dataset("cuhk", cuhk_root, split="all", include_motion=True)) == 108
    item = test[95]  # out_of_focus0026, stored as .JPG
    assert item["meta"]["name"] == "out_of_focus0026" and item["image"].dtype == np.uint8
    assert item["image"].shape == (12, 16, 3) and item["meta"]["orig_size"] == (12, 16)
    # CUHK: white = blurred, kept; RGBA (index 0), palette (index 11) and L masks decode identically
    for i in (0, 11, 95):
        m = test[i]["mask"]
        assert m.dtype == np.float32 and m[:, :4].min() == 1.0 and m[:, 4:].max() == 0.0
    assert item["meta"]["native_positive"] == "blur"


def test_cuhk_list_ships_100_unique_stems_with_upper_case_tail():
    names = load_split_list("cuhk_btbnet_test")
    assert len(names) == len(set(names)) == 100
    assert names[:2] == ("out_of_focus0037", "out_of_focus0117") and names[-1] == "out_of_focus0103"


def test_cuhk_motion_needs_split_all(cuhk_root):
    with pytest.raises(DataError, match="include_motion=True needs split='all'"):
        create_dataset("cuhk", cuhk_root, split="train", include_motion=True)


def _dut(root):
    for part, (src, gt, names) in {
        "train": ("DUT600S_Training", "DUT600GT_Training", ["a1", "a2", "a3"]),
        "test": ("DUT500S-Testing", "DUT500GT-Testing", ["1", "2", "10"]),
    }.items():
        for i, n in enumerate(names):
            save_rgb(root / src / f"{n}{'.JPG' if i == 0 and part == 'train' else '.jpg'}", rgb(i))
            save_gt(root / gt / f"{n}.bmp", half_mask())
    return root


def test_dut_inverts_in_focus_white(tmp_path):
    root = _dut(tmp_path / "DUT-DBD_Dataset")
    test = create_dataset("dut", root, split="test")
    assert [s.name for s in test.samples] == ["1", "2", "10"]  # natural order
    m = test[0]["mask"]
    assert m[:, :4].max() == 0.0 and m[:, 4:].min() == 1.0  # white (in focus) -> 0
    assert test[0]["meta"]["native_positive"] == "in_focus"
    assert len(create_dataset("dut", root, split="train")) == 3
    assert len(create_dataset("dut", tmp_path, split="all")) == 6  # found through the usual folder name


def test_composition_cuhk_plus_dut(cuhk_root, tmp_path):
    _dut(tmp_path / "DUT-DBD_Dataset")
    ds = create_dataset(
        "cuhk+dut", {"cuhk": cuhk_root, "dut": tmp_path / "DUT-DBD_Dataset"}, split="train", scheme="btbnet"
    )
    assert isinstance(ds, ComposedDataset) and len(ds) == 6 + 3
    assert ds[0]["meta"]["dataset"] == "cuhk" and ds[8]["meta"]["dataset"] == "dut"
    assert len(create_dataset("cuhk+dut", tmp_path, split="train")) == 9  # one parent folder
    with pytest.raises(DataError, match="bogus"):
        create_dataset("cuhk+dut", tmp_path, split="train", bogus=1)


def test_zhao320_grey_edges_threshold_inversion_and_name_map(tmp_path):
    base = tmp_path / "test_data" / "CUHK"
    gt = np.zeros((12, 16), np.uint8)
    gt[:, 4:8], gt[:, 8:12], gt[:, 12:] = 100, 200, 255  # grey edge values around the 127 threshold
    for n in (1, 2, 3):
        save_rgb(base / "xu100-source" / f"{n}.bmp", rgb(n))
        save_gt(base / "xu100-gt" / f"{n}.bmp", gt)
    ds = create_dataset("zhao320", tmp_path, split="test", subset="xu100")
    m = ds[0]["mask"]
    np.testing.assert_array_equal(m[0], [1] * 8 + [0] * 8)  # 0 and 100 -> in focus=0 -> blurred 1
    assert (
        ds[0]["meta"]["cuhk_name"] == "out_of_focus0037" and ds[2]["meta"]["cuhk_name"] == "out_of_focus0126"
    )
    soft = create_dataset("zhao320", tmp_path, split="test", gt_threshold=None)[0]["mask"]
    np.testing.assert_allclose(soft[0, [0, 4, 8, 12]], [1, 1 - 100 / 255, 1 - 200 / 255, 0], atol=1e-6)
    with pytest.raises(DataError, match="split='train' is not offered"):
        create_dataset("zhao320", tmp_path, split="train")


def test_ctcug_both_layouts(tmp_path):
    a = tmp_path / "a" / "CTCUG" / "Imgs"
    for i in range(3):
        save_rgb(a / f"img{i}.jpg", rgb(i))
        save_gt(a / f"img{i}.png", half_mask())
    ds = create_dataset("ctcug", tmp_path / "a", split="test")
    assert len(ds) == 3 and ds[1]["mask"][:, :4].min() == 1.0  # blurred white kept
    b = tmp_path / "b"
    for i in range(3):
        save_rgb(b / "CTCUG_images" / f"{i:02d}.jpg", rgb(i))
        gt = half_mask() if i != 2 else 255 - half_mask()
        save_gt(b / "CTCUG_gt" / f"gt_{i:02d}.png", gt)
    ds = create_dataset("ctcug", b, split="test")  # stems differ: sorted-order pairing
    assert [s.gt.name for s in ds.samples] == ["gt_00.png", "gt_01.png", "gt_02.png"]
    assert ds[2]["mask"][:, :4].max() == 0.0
    with pytest.raises(DataError, match="unpaired"):
        create_dataset("ctcug", b, split="test", pairing="stem")


def test_ebd_inverts(tmp_path):
    root = tmp_path / "EBD"
    for i in range(2):
        save_rgb(root / "image" / f"{i}.jpg", rgb(i))
        save_gt(root / "gt" / f"{i}.png", np.full((12, 16), 255, np.uint8))  # fully clear image
    item = create_dataset("ebd", tmp_path, split="test")[0]
    assert item["mask"].max() == 0.0  # fully clear -> all-zero canonical mask


def test_syndof_sigma_decoding_both_units(tmp_path):
    root = tmp_path / "train" / "SYNDOF"
    save_rgb(root / "image" / "MPI_1_1_f_50_fp_10_A_2.png", rgb(0))
    raw = np.zeros((12, 16, 3), np.uint16)
    raw[..., :] = 5  # 0.5
    raw[:, 8:, :] = 35  # 3.5
    raw[:, 15, 1] = 290  # 29.0 in the G channel only (the reader uses channel 1)
    (root / "blur_map").mkdir(parents=True)
    cv2.imwrite(str(root / "blur_map" / "MPI_1_1_f_50_fp_10_A_2.png"), raw)
    binary = np.zeros((12, 16), np.uint8)
    binary[:, 8:] = 1  # stored as {0, 1}
    save_gt(root / "blur_map_binary" / "MPI_1_1_f_50_fp_10_A_2_binary.png", binary)
    item = create_dataset("syndof", tmp_path, split="train")[0]
    np.testing.assert_allclose(item["defocus"][0, [0, 8, 15]], [0.5, 3.5, 29.0], atol=1e-6)
    np.testing.assert_array_equal(item["mask"][0], [0] * 8 + [1] * 8)
    coc = create_dataset("syndof", tmp_path, split="train", units="coc15")[0]["defocus"]
    np.testing.assert_allclose(coc[0, [0, 8, 15]], [0.0, 1.25, 14.0], atol=1e-6)  # max(0, (c - 1) / 2)
    assert item["defocus_valid"].min() == 1.0


def test_rtf_radius_table_npy_and_mat(tmp_path):
    radius = np.array([[0.5, 0.6, 0.625, 0.7, 3.0, 6.0, 7.0, 0.0]])
    expected = [0.3, 0.3, 0.3, 0.5, 1.65, 3.275, 3.275, 0.3]  # nearest r; the 0.625 tie takes the smaller r
    root = tmp_path / "RTF"
    save_rgb(root / "image" / "1.6" / "img1.png", rgb(0, 1, 8))
    (root / "gt" / "1.6").mkdir(parents=True)
    np.save(root / "gt" / "1.6" / "img1.npy", radius)
    ds = create_dataset("rtf", tmp_path, split="test", noise=1.6)
    np.testing.assert_allclose(ds[0]["defocus"][0], expected, atol=1e-6)
    assert "mask" not in ds[0] and ds[0]["meta"]["noise"] == "1.6"
    (root / "gt" / "0").mkdir()
    save_rgb(root / "image" / "0" / "a.png", rgb(0, 1, 8))
    savemat(root / "gt" / "0" / "a_gt.mat", {"blurMap": radius})  # stems differ: sorted-order pairing
    item = create_dataset("rtf", root, split="test", noise=0, mask_threshold=1.0)[0]
    np.testing.assert_allclose(item["defocus"][0], expected, atol=1e-6)
    np.testing.assert_array_equal(item["mask"][0], np.array(expected) > 1.0)


def test_folder_declared_polarity_and_sigma(tmp_path):
    root = tmp_path / "mine" / "train"
    save_rgb(root / "images" / "x.png", rgb(0))
    save_gt(root / "masks" / "x.png", half_mask())
    (root / "sigma").mkdir()
    np.save(root / "sigma" / "x.npy", np.full((12, 16), 1.5, np.float32))
    with pytest.raises(DataError, match="positive=None"):
        create_dataset("folder", tmp_path / "mine")
    item = create_dataset("folder", tmp_path / "mine", split="train", positive="in_focus")[0]
    assert item["mask"][:, :4].max() == 0.0 and item["mask"][:, 4:].min() == 1.0
    assert float(item["defocus"].mean()) == pytest.approx(1.5)
    assert create_dataset("folder", root, positive="blur")[0]["mask"][:, :4].min() == 1.0


def test_unlabelled_has_no_mask(tmp_path):
    for i in range(3):
        save_rgb(tmp_path / "images" / f"{i}.jpg", rgb(i))
    ds = create_dataset("unlabelled", tmp_path)
    assert len(ds) == 3 and "mask" not in ds[0] and ds[0]["image"].shape == (12, 16, 3)
