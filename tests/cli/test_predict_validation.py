"""``dbdzoo predict`` validates every input before writing anything, and resolves ``--device`` like eval."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dbdzoo import create_model
from dbdzoo.cli import main
from dbdzoo.hub import save_pretrained


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model") / "fpn_tiny"
    save_pretrained(create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval(), folder)
    return folder


def _errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.strip().splitlines() if "error" in line]


def _good(path, seed: int) -> None:
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(path)


def test_a_corrupt_file_in_a_folder_stops_before_any_output(saved, tmp_path, capsys) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    _good(inputs / "a.png", 0)
    _good(inputs / "c.png", 1)
    _good(tmp_path / "full.png", 2)
    data = (tmp_path / "full.png").read_bytes()
    (inputs / "b.png").write_bytes(data[: len(data) // 2])  # truncated
    out = tmp_path / "out"
    argv = ["predict", str(inputs), "--model", str(saved), "--out", str(out), "--device", "cpu"]
    code = main([*argv, "--batch-size", "1"])  # one image per batch: a.png would be written first
    errors = _errors(capsys)
    assert code == 1 and len(errors) == 1, errors
    assert str(inputs / "b.png") in errors[0] and "nothing written" in errors[0]
    assert not out.exists() or not any(out.rglob("*"))


def test_several_bad_files_are_counted_in_the_one_line(saved, tmp_path, capsys) -> None:
    _good(tmp_path / "a.png", 0)
    (tmp_path / "b.png").write_text("not an image")
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8garbage")
    out = tmp_path / "out"
    code = main(["predict", str(tmp_path), "--model", str(saved), "--out", str(out), "--device", "cpu"])
    errors = _errors(capsys)
    assert code == 1 and len(errors) == 1 and not out.exists()
    assert "b.png: not an image" in errors[0] and "1 more unreadable input(s), nothing written" in errors[0]


def test_device_cuda_without_a_gpu_is_one_line_naming_the_flag(saved, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # same answer on a GPU machine
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    _good(tmp_path / "a.png", 0)
    base = ["predict", str(tmp_path / "a.png"), "--model", str(saved), "--out", str(tmp_path / "predictions")]
    for spec in ("cuda", "cuda:1"):
        code = main([*base, "--device", spec])
        errors = _errors(capsys)
        assert code == 1 and len(errors) == 1, errors
        assert f"--device={spec!r}" in errors[0] and "this machine has 0" in errors[0]
    code = main([*base, "--device", "gpu"])
    errors = _errors(capsys)
    assert (
        code == 1 and len(errors) == 1 and "--device='gpu': expected auto, cpu, cuda or cuda:N" in errors[0]
    )
    assert not (tmp_path / "predictions").exists()
