"""``benchmarks/gpu_train_zoo.py``: refusals before any training, and a CPU smoke run of the whole flow.

The smoke run trains the tiny ``fpn_resnet10t`` through both stages on a CUHK-shaped folder (the 80 val
names of ``btbnet_val80`` plus a few training names) while ``cenet`` is broken on purpose by an override:
the broken network must be reported and must not stop the other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from helpers.child import run_child
from PIL import Image
from safetensors import safe_open

from dbdzoo.data.io import read_gray
from dbdzoo.data.splits import load_split_list

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_train_zoo.py"


def _image(path: Path, seed: int, blurred_left: bool) -> None:
    rng = np.random.default_rng(seed)
    img = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
    if blurred_left:
        img[:, :24] = img[:, :24].mean(axis=(0, 1), keepdims=True).astype(np.uint8)
    Image.fromarray(img).save(path, quality=95)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("zoo_data")
    cuhk, photos = root / "CUHK", root / "photos"
    for d in (cuhk / "image", cuhk / "gt", photos):
        d.mkdir(parents=True)
    train_names = [f"out_of_focus{n:04d}" for n in range(1, 200)]
    held = set(load_split_list("cuhk_btbnet_val80")) | set(load_split_list("cuhk_btbnet_test"))
    names = list(load_split_list("cuhk_btbnet_val80")) + [n for n in train_names if n not in held][:6]
    gt = np.zeros((40, 48), np.uint8)
    gt[:, :24] = 255  # white = blurred, as CUHK stores it
    for i, name in enumerate(names):
        _image(cuhk / "image" / f"{name}.jpg", i, blurred_left=True)
        Image.fromarray(gt).save(cuhk / "gt" / f"{name}.png")
    for i, stem in enumerate(("photo0", "photo1", "kodim15", "kodim23", "skimage_chelsea")):  # the recipes
        pixels = (np.random.default_rng(100 + i).random((64, 64, 3)) * 255).astype(np.uint8)  # leave out 3
        Image.fromarray(pixels).save(photos / f"{stem}.jpg")
    return cuhk, photos


def _run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return run_child([sys.executable, str(SCRIPT), *args], cwd=REPO, timeout=timeout)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--models", "fpn_resnet10t", "resnet"], "unknown model 'resnet' (not a dbdzoo network)"),
        (["--models", "fpn"], "unknown model 'fpn' (registered, but it has no zoo recipes)"),
        (["--models", "fpn_resnet10t", "--budget-s", "30"], "is too small: one measured step takes"),
        (["--models", "fpn_resnet10t", "--set", "fpn_resnet10t=1"], "expected MODEL:KEY=VALUE"),
    ],
)
def test_bad_requests_are_refused_in_one_line_before_training(data, tmp_path, extra, message):
    cuhk, photos = data
    args = ["--smoke", "--budget-s", "600", "--cuhk-dir", str(cuhk), "--photos-dir", str(photos),
            "--out", str(tmp_path / "out"), *extra]  # fmt: skip
    proc = _run(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu_train_zoo: ") and message in lines[0]
    assert not (tmp_path / "out" / "runs").exists()  # nothing trained


def test_missing_data_folder_is_named(data, tmp_path):
    _, photos = data
    proc = _run("--smoke", "--budget-s", "600", "--cuhk-dir", str(tmp_path / "nope"), "--photos-dir", str(photos),
                "--out", str(tmp_path / "out"))  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"gpu_train_zoo: --cuhk-dir {tmp_path / 'nope'}: no such folder"


def test_smoke_run_trains_both_stages_and_survives_a_broken_network(data, tmp_path):
    cuhk, photos = data
    out = tmp_path / "out"
    # 170 s: ~37 s a stage, so a loaded CI machine (a CPU step of up to ~3.5 s; 2.6 s seen) is not refused
    proc = _run("--smoke", "--models", "fpn_resnet10t", "cenet", "--budget-s", "170", "--synthetic-share", "0.5",
                "--cuhk-dir", str(cuhk), "--photos-dir", str(photos), "--out", str(out),
                "--set", "cenet:+model.no_such_option=1")  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one network failed
    summary = json.loads((out / "zoo.json").read_text())
    assert summary["wall_s"] <= 170
    by_stage = {(r["model"], r["stage"]): r for r in summary["stages"]}
    for stage in ("synthetic", "cuhk"):
        rec = by_stage["fpn_resnet10t", stage]
        assert rec["exit"] == 0 and not rec["error"]
        assert (
            5 <= rec["step"] <= rec["max_steps"]
        )  # probed, then sized (exact sizing: engine/test_time_budget)
        assert rec["images_per_s_median"] > 0 and rec["wall_s"] > 0
        weights = out / rec["release"]["file"]
        with safe_open(str(weights), framework="pt") as f:
            assert {f.get_tensor(k).dtype for k in f.keys() if f.get_tensor(k).is_floating_point()} == {  # noqa: SIM118
                __import__("torch").float16
            }
    assert (
        "data.render_on=device" in by_stage["fpn_resnet10t", "synthetic"]["command"]
    )  # GPU-rendered stage 1
    assert "render_on" not in by_stage["fpn_resnet10t", "cuhk"]["command"]
    assert 0 <= by_stage["fpn_resnet10t", "cuhk"]["val"]["ddffnet/MAE"] <= 1
    assert by_stage["fpn_resnet10t", "cuhk"]["release"]["source"] == "best.pt"  # selected on val80
    assert "no_such_option" in by_stage["cenet", "synthetic"]["error"]
    assert by_stage["cenet", "cuhk"]["error"].startswith("skipped")
    assert not list(out.rglob("*.pt"))  # checkpoints deleted after release: the output stays small
    with tarfile.open(out / "logs.tar.gz") as tar:
        names = tar.getnames()
    assert "runs/fpn_resnet10t/cuhk.log" in names and "runs/fpn_resnet10t/cuhk/run.json" in names
    table = (out / "zoo.md").read_text()
    assert "| fpn_resnet10t | cuhk |" in table and "failed: " in table
    assert proc.stdout.rstrip().endswith(f"results in {out}")


def test_slot_data_packs_cuhk_and_photos_as_jpeg(data, tmp_path):
    cuhk, photos = data
    out = tmp_path / "packed"
    proc = run_child([sys.executable, str(REPO / "benchmarks" / "gpu_slot_data.py"), "--cuhk", str(cuhk),
                      "--photos", str(photos), "--out", str(out), "--photo-max-side", "32"],
                     cwd=tmp_path, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (out / "cuhk" / "gt").iterdir()) == sorted(
        p.name for p in (cuhk / "gt").iterdir()
    )
    assert len(list((out / "cuhk" / "image").glob("*.jpg"))) == len(list((cuhk / "image").iterdir()))
    for packed in (out / "cuhk" / "gt").iterdir():  # 1-bit PNGs that read back as the same 0/255 maps
        np.testing.assert_array_equal(read_gray(packed), read_gray(cuhk / "gt" / packed.name))
    with Image.open(next((out / "photos").glob("*.jpg"))) as im:
        assert max(im.size) == 32
    assert "MiB" in proc.stdout


def test_the_documented_command_without_a_gpu_refuses_in_one_line(data, tmp_path):
    """docs/benchmarks.md's command, as typed, on a machine without CUDA (CI): one line, nothing trained."""
    cuhk, photos = data
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    proc = run_child([sys.executable, str(SCRIPT), "--budget-s", "540", "--cuhk-dir", str(cuhk), "--photos-dir",
                      str(photos), "--out", str(tmp_path / "OUT"), "--models", "fpn_resnet10t", "cenet", "br2net",
                      "defusionnet", "defusionnet_tpami", "dmenet", "btbnet"],
                     cwd=REPO, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == "gpu_train_zoo: no CUDA GPU here; --smoke runs the tiny CPU version"
    assert not (tmp_path / "OUT").exists()
