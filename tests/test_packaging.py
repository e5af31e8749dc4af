"""A non-editable install ships the Hydra configs: ``python -m dbdzoo train|eval`` work outside a checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.child import run_child

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = run_child(args, cwd=cwd, env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_wheel_install_trains_and_evaluates_without_a_checkout(tmp_path) -> None:
    src = tmp_path / "src"  # build from a copy: an in-tree build would leave build/ in the checkout
    src.mkdir()
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "dbdzoo", src / "dbdzoo", ignore=ignore)
    shutil.copytree(REPO / "configs", src / "configs", ignore=ignore)
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(src),
        ],
        tmp_path,
    )
    wheel = next(wheels.glob("dbdzoo-*.whl"))
    _run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        tmp_path,
    )
    assert (site / "dbdzoo" / "configs" / "train.yaml").is_file()
    assert (site / "dbdzoo" / "configs" / "experiment" / "quickstart.yaml").is_file()

    elsewhere = tmp_path / "elsewhere"  # no configs/ here, and the checkout is not importable
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    where = _run(
        [sys.executable, "-c", "import dbdzoo.engine.entry as e; print(e.config_dir())"], elsewhere, env
    )
    assert where.stdout.strip() == str(site / "dbdzoo" / "configs")
    run = elsewhere / "run"
    tiny = ["debug=fast", "model.backbone=tiny_vgg", "model.decoder_channels=8", "data.train.size=32",
            "data.train.length=8", "data.val.size=32", "data.val.length=4"]  # fmt: skip
    _run(
        [sys.executable, "-m", "dbdzoo", "train", "experiment=quickstart", *tiny, f"hydra.run.dir={run}"],
        elsewhere,
        env,
    )
    weights = run / "checkpoints" / "last.safetensors"
    assert weights.is_file()
    spec = "datasets={synthetic: {length: 2, size: 32}}"
    _run(
        [
            sys.executable,
            "-m",
            "dbdzoo",
            "eval",
            f"model_ref={weights}",
            spec,
            "device=cpu",
            f"hydra.run.dir={elsewhere / 'ev'}",
        ],
        elsewhere,
        env,
    )
    assert (elsewhere / "ev" / "results.json").is_file()
