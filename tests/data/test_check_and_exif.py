"""The layout checker as documented, and one EXIF policy for readers, ``model.predict`` and ``dbdzoo predict``."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import torch
from data_helpers import half_mask, rgb, save_gt, save_rgb
from PIL import Image

import dbdzoo
from dbdzoo.data import create_dataset
from dbdzoo.data.check import main as check_main
from dbdzoo.data.io import read_gray, read_rgb, read_rgb_float


def _check(command: str, capsys, **subs: Path) -> tuple[int, str]:
    argv = shlex.split(command)[3:]  # drop "python -m dbdzoo.data.check"
    for placeholder, real in subs.items():  # the documented root folder -> a test folder
        argv = [str(real) + a[len(placeholder) :] if a.split("/")[0] == placeholder else a for a in argv]
    code = check_main(argv)
    return code, capsys.readouterr().out


def _zhao(root: Path) -> None:
    for group, src, gt in (("CUHK", "xu100-source", "xu100-gt"), ("DUT", "dut500-source", "dut500-gt")):
        save_rgb(root / "test_data" / group / src / "1.bmp", rgb(0, 320, 320))
        save_gt(root / "test_data" / group / gt / "1.bmp", 255 - half_mask(320, 320))


def test_zhao320_check_runs_with_and_without_a_subset(tmp_path, capsys) -> None:
    _zhao(tmp_path)
    code, out = _check(
        "python -m dbdzoo.data.check data --dataset zhao320 --split test", capsys, data=tmp_path
    )
    assert code == 1 and "zhao320/xu100 / test" in out and "the published zhao320/test has 100" in out
    documented = "python -m dbdzoo.data.check data --dataset zhao320 --split test --option subset=dut500"
    code, out = _check(documented, capsys, data=tmp_path)
    assert "zhao320/dut500 / test" in out and "has 500" in out


def test_missing_gt_folder_is_named(tmp_path, capsys) -> None:
    save_rgb(tmp_path / "CUHK" / "image" / "out_of_focus0001.jpg", rgb(0))
    code, out = _check("python -m dbdzoo.data.check data/CUHK --dataset cuhk", capsys, data=tmp_path)
    assert code == 1 and "does not have the expected layout (missing gt/; it holds: image/)" in out


def _rotated_jpeg(path: Path, array: np.ndarray) -> Path:
    """A phone-style JPEG: pixels stored landscape, EXIF orientation 6 (display rotated 90° clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95, exif=exif)
    return path


def test_one_exif_policy_for_readers_model_predict_and_the_cli(tmp_path) -> None:
    from dbdzoo.cli.predict_io import decode

    stored = rgb(1, 12, 20)
    photo = _rotated_jpeg(tmp_path / "mine" / "images" / "p.jpg", stored)
    upright = read_rgb(photo)
    assert upright.shape == (20, 12, 3)  # turned as a photo viewer shows it
    np.testing.assert_allclose(read_rgb_float(photo), decode(photo)[0], atol=1e-6)  # = dbdzoo predict
    save_gt(tmp_path / "mine" / "masks" / "p.png", np.zeros((20, 12), np.uint8))
    item = create_dataset("folder", tmp_path / "mine", split="all", positive="blur")[0]
    np.testing.assert_array_equal(item["image"], upright)  # readers, hence eval.py, see the same pixels
    assert read_gray(tmp_path / "mine" / "masks" / "p.png").shape == (20, 12)
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    np.testing.assert_allclose(model.predict(photo), model.predict(upright), atol=1e-6)
    np.testing.assert_allclose(model.predict(str(photo)), model.predict(Image.open(photo)), atol=1e-6)
    x = torch.from_numpy(upright).permute(2, 0, 1).float() / 255
    np.testing.assert_allclose(model.predict(x)[0].numpy(), model.predict(upright), atol=1e-6)


def test_check_options_are_read_as_the_cli_reads_them(tmp_path) -> None:
    import pytest

    from dbdzoo.key_values import parse_key_values

    assert parse_key_values(["noise=1.6", "subset=dut500", "limit=3", "flip=true"], "--option") == {
        "noise": 1.6, "subset": "dut500", "limit": 3, "flip": True,
    }  # fmt: skip
    with pytest.raises(SystemExit, match=r"^--option 'subset': expected KEY=VALUE, e\.g\. code=cpp$"):
        check_main([str(tmp_path), "--dataset", "zhao320", "--option", "subset"])
    with pytest.raises(SystemExit, match=r"--option 'noise=\[1': the value is not valid YAML"):
        check_main([str(tmp_path), "--dataset", "rtf", "--option", "noise=[1"])
