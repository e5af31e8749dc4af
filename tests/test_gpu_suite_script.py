"""``benchmarks/gpu_suite.sh`` passes its time budget on as the suite's deadline and still writes a summary."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from helpers.child import run_child

REPO = Path(__file__).resolve().parents[1]


def test_an_exhausted_budget_skips_every_section_but_writes_the_summary(tmp_path) -> None:
    env = {**os.environ, "SUITE_BUDGET_S": "0", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = run_child(
        ["bash", "benchmarks/gpu_suite.sh", str(tmp_path), "--smoke", "--models", "fpn", "--device", "cpu"],
        cwd=REPO, env=env, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary = (tmp_path / "summary.md").read_text()
    assert "skipped (deadline): matmul, ops, speed/fpn, renderer, train/fpn" in summary
    assert (tmp_path / "suite.log").read_text().strip().endswith("train/fpn")  # tee'd: the summary is last
    assert not (tmp_path / "input_pipeline.json").exists()  # never in --smoke runs
    assert not (tmp_path / "classical.log").exists()


def test_without_a_gpu_the_suite_refuses_in_one_line_unless_smoke(tmp_path) -> None:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "CUDA_VISIBLE_DEVICES": "",
    }
    proc = run_child(
        ["bash", "benchmarks/gpu_suite.sh", str(tmp_path / "out")], cwd=REPO, env=env, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "gpu_suite.sh: no CUDA GPU here; add --smoke for the CPU smoke mode"
    assert not (tmp_path / "out").exists()


def test_dbdzoo_bench_defaults_are_cpu_sized_on_a_cpu() -> None:
    import argparse

    from dbdzoo.cli.bench import CPU_DEFAULTS, GPU_DEFAULTS, add_arguments, apply_device_defaults

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    cpu = apply_device_defaults(parser.parse_args([]), "cpu")
    assert (cpu.models, cpu.size, cpu.compile) == ("fpn_resnet10t,fpn", 128, "none")
    gpu = apply_device_defaults(parser.parse_args([]), "cuda")
    assert (gpu.models, gpu.size, gpu.batches) == ("*", 320, "1,64")
    explicit = apply_device_defaults(parser.parse_args(["--size", "64", "--models", "cenet"]), "cpu")
    assert (explicit.size, explicit.models, explicit.iters) == (64, "cenet", CPU_DEFAULTS["iters"])
    assert set(CPU_DEFAULTS) == set(GPU_DEFAULTS)


def test_models_are_measured_in_the_order_given(tmp_path) -> None:
    """A short slot measures the open goals first: ``--models`` is an order, not just a filter."""
    proc = run_child(
        [sys.executable, "benchmarks/gpu_suite.py", "--out", str(tmp_path), "--smoke", "--device", "cpu",
         "--models", "fpn_resnet10t,fpn*,cenet", "--deadline-s", "0"],
        cwd=REPO, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    skipped = json.loads((tmp_path / "suite.json").read_text())["skipped"]
    speed = [k.split("/", 1)[1] for k in skipped if k.startswith("speed/")]
    assert speed == ["fpn_resnet10t", "fpn", "fpn_resnet18", "cenet"]  # a pattern's own matches stay sorted
