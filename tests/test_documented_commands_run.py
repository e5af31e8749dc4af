"""Documented non-Hydra commands run as typed (issue 22): the CUHK check, the CUHK-TR-1-only group, the
bare ``dbdzoo export --format onnx``, and the one-line messages users meet on the way.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dbdzoo.data import create_dataset
from dbdzoo.data.check import main as check_main
from dbdzoo.data.io import DataError
from dbdzoo.data.splits import load_split_list
from dbdzoo.engine.eval.datasets import resolve_datasets


def _cuhk_tree(root, with_test: bool) -> None:
    """Tiny CUHK copy: 604 (+100 test) pairs, the left two thirds blurred and labelled white."""
    test = set(load_split_list("cuhk_btbnet_test"))
    (root / "image").mkdir(parents=True)
    (root / "gt").mkdir()
    rng = np.random.default_rng(0)
    mask = np.zeros((24, 24), np.uint8)
    mask[:, :16] = 255
    for i in range(1, 705):
        name = f"out_of_focus{i:04d}"
        if name in test and not with_test:
            continue
        img = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
        img[:, :16] = cv2.GaussianBlur(img, (9, 9), 3)[:, :16]
        cv2.imwrite(str(root / "image" / f"{name}.jpg"), img)
        cv2.imwrite(str(root / "gt" / f"{name}.png"), mask)


@pytest.mark.parametrize("with_test", [True, False], ids=["full download", "CUHK-TR-1 alone"])
def test_check_passes_on_a_correct_cuhk_copy_and_says_what_it_checked(tmp_path, capsys, with_test):
    _cuhk_tree(tmp_path / "CUHK", with_test)
    assert check_main([str(tmp_path / "CUHK"), "--dataset", "cuhk"]) == 0  # as docs/datasets.md types it
    out = capsys.readouterr().out
    checked = "train, test" if with_test else "train"
    assert f"checking cuhk split(s): {checked}, scheme=btbnet" in out and "[FAIL]" not in out
    assert ("[SKIP] cuhk/test" in out) != with_test
    assert check_main([str(tmp_path / "CUHK"), "--dataset", "cuhk", "--option", "scheme=btbnet_val80"]) == 0
    assert "split(s): train, val" in capsys.readouterr().out


def test_cuhk_test_split_without_test_images_names_the_cuhk_val80_group(tmp_path):
    _cuhk_tree(tmp_path / "CUHK", with_test=False)
    with pytest.raises(DataError, match=r"CUHK-TR-1 .* data=cuhk_val80"):
        create_dataset("cuhk", tmp_path / "CUHK", split="test")
    spec = resolve_datasets(["cuhk_val80"], {"cuhk_dir": str(tmp_path / "CUHK")})["cuhk_val80"]
    assert len(create_dataset(spec["name"], spec["root"], split=spec["split"], scheme=spec["scheme"])) == 80


def test_cuhk_groups_read_paths_cuhk_dir():
    for group in ("cuhk", "cuhk_val80"):
        assert resolve_datasets([group], {"cuhk_dir": "/elsewhere/CUHK"})[group]["root"] == "/elsewhere/CUHK"


def test_inline_eval_spec_typo_gets_did_you_mean():
    spec = {"name": "folder", "root": "/tmp", "split": "all", "positive": "blur", "gt_treshold": 3}
    with pytest.raises(ValueError, match=r"did you mean datasets\.mine\.gt_threshold\?"):
        resolve_datasets({"mine": spec})


def test_float_image_above_one_message_reads_as_a_sentence():
    from dbdzoo.models.inputs import to_rgb_float

    with pytest.raises(ValueError) as info:
        to_rgb_float(np.full((4, 4, 3), 200.0, np.float32))
    assert str(info.value) == (
        "predict: a float image must hold RGB in [0, 1], got values in [200, 200]; "
        "it looks like 0–255: divide by 255, or pass a uint8 array"
    )


@pytest.mark.export
def test_export_onnx_as_the_readme_types_it(tmp_path, monkeypatch):
    pytest.importorskip("onnxscript")
    from dbdzoo.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["export", "--format", "onnx"]) == 0  # README: `dbdzoo export --format onnx`
    assert (tmp_path / "fpn_resnet10t.cuhk.onnx").stat().st_size > 1_000_000
