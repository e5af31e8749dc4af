"""Bad input fails loudly with a first line naming the file/key/value, or is skipped and counted on request."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from data_helpers import half_mask, rgb, save_gt, save_rgb

from dbdzoo.data import DataError, create_dataset
from dbdzoo.data.check import main as check_main


def _cuhk_all(root, n=3):
    for i in range(n):
        save_rgb(root / "image" / f"out_of_focus{i + 1:04d}.jpg", rgb(i))
        save_gt(root / "gt" / f"out_of_focus{i + 1:04d}.png", half_mask())
    return root


def test_missing_root_prints_expected_tree(tmp_path):
    with pytest.raises(DataError) as e:
        create_dataset("cuhk", tmp_path / "nope")
    first, *rest = str(e.value).splitlines()
    assert "does not exist" in first and str(tmp_path / "nope") in first
    assert "expected layout" in rest[0] and any("gt/out_of_focus0001.png" in line for line in rest)
    with pytest.raises(DataError, match="needs root"):
        create_dataset("dut", None)


def test_wrong_layout_lists_what_was_found(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DataError, match=r"does not have the expected layout \(it holds: images/\)"):
        create_dataset("cuhk", tmp_path, split="all")


def test_truncated_image_names_file_and_skip_counts(tmp_path, caplog):
    root = _cuhk_all(tmp_path)
    bad = root / "image" / "out_of_focus0002.jpg"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated JPEG
    ds = create_dataset("cuhk", root, split="all")
    with pytest.raises(DataError, match=r"out_of_focus0002\.jpg: cannot decode image"):
        ds[1]
    skip = create_dataset("cuhk", root, split="all", on_error="skip")
    with caplog.at_level(logging.WARNING):
        item = skip[1]
    assert item["meta"]["name"] == "out_of_focus0003"  # replaced by the next sample, not dropped silently
    assert list(skip.skipped) == ["out_of_focus0002"] and "skipping out_of_focus0002" in caplog.text


def test_size_mismatch_names_both_sizes_and_resize_opt_in(tmp_path):
    root = _cuhk_all(tmp_path, 1)
    save_gt(root / "gt" / "out_of_focus0001.png", np.zeros((6, 8), np.uint8) + 255)
    with pytest.raises(DataError, match=r"out_of_focus0001\.png: mask is 6x8 \(HxW\) but image .* is 12x16"):
        create_dataset("cuhk", root, split="all")[0]
    item = create_dataset("cuhk", root, split="all", on_mismatch="resize")[0]
    assert item["mask"].shape == (12, 16) and item["mask"].min() == 1.0


def test_unpaired_files_error_or_skip(tmp_path, caplog):
    root = _cuhk_all(tmp_path)
    (root / "gt" / "out_of_focus0003.png").unlink()
    with pytest.raises(DataError, match=r"1 unpaired file\(s\).*out_of_focus0003"):
        create_dataset("cuhk", root, split="all")
    with caplog.at_level(logging.WARNING):
        ds = create_dataset("cuhk", root, split="all", on_error="skip")
    assert len(ds) == 2 and ds.skipped == {"out_of_focus0003": "unpaired"} and "unpaired" in caplog.text


def test_duplicate_stems_and_bad_values(tmp_path):
    root = _cuhk_all(tmp_path, 1)
    save_rgb(root / "image" / "out_of_focus0001.png", rgb(9))
    with pytest.raises(DataError, match="two files share the stem 'out_of_focus0001'"):
        create_dataset("cuhk", root, split="all")
    with pytest.raises(DataError, match="on_error='ignore'"):
        create_dataset("cuhk", root, on_error="ignore")
    with pytest.raises(DataError, match="split='valid' is not offered; valid splits: train, val, test, all"):
        create_dataset("cuhk", root, split="valid")
    with pytest.raises(KeyError, match="valid names: .*cuhk"):
        create_dataset("cuhkk", root)
    with pytest.raises(DataError, match="noise=2"):
        create_dataset("rtf", root, noise=2)


def test_checker_summary_and_exit_codes(tmp_path, capsys):
    root = _cuhk_all(tmp_path)
    assert check_main([str(root), "--dataset", "cuhk", "--split", "all"]) == 1  # 3 images, published 704
    out = capsys.readouterr().out
    assert "found 3 samples, the published cuhk/all has 704" in out and "blur_mean" in out
    # polarity: CUHK masks with only 25 % blurred look inverted
    assert "polarity: mean blurred fraction 0.250" in out
    folder = tmp_path / "f"
    save_rgb(folder / "images" / "a.png", rgb(0))
    save_gt(folder / "masks" / "a.png", half_mask())
    assert (
        check_main([str(folder), "--dataset", "folder", "--split", "train", "--option", "positive=blur"]) == 0
    )
    assert "OK" in capsys.readouterr().out
