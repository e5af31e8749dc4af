"""``benchmarks/classical_baselines.py`` on a small synthetic image: a row per method and stage, no timing
asserted; the default image has structure (LBP on pure noise would time a trivial, flat map)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from helpers.child import run_child

REPO = Path(__file__).resolve().parents[1]
ROW = r"{} +median +[0-9.]+ s +min +[0-9.]+ +max +[0-9.]+ +\(1 img/call: [0-9.]+ img/s\)"


def test_classical_benchmark_times_lbp_and_its_stages_on_a_synthetic_image() -> None:
    cmd = [sys.executable, "benchmarks/classical_baselines.py", "--models", "lbp", "--size", "64x48",
           "--repeats", "2", "--stages", "--threads", "1"]  # fmt: skip
    proc = run_child(cmd, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "input (1, 3, 48, 64)" in proc.stdout and "threads 1" in proc.stdout
    assert re.search(ROW.format("lbp"), proc.stdout), proc.stdout
    assert re.search(ROW.format(re.escape("lbp sharpness (3 scales)")), proc.stdout), proc.stdout


def test_synthetic_image_is_sharp_left_and_blurred_right() -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from classical_baselines import _image
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    img = _image(None, (96, 40))[0].mean(0)
    detail = (img[:, 1:] - img[:, :-1]).abs()
    assert img.shape == (40, 96) and float(detail[:, :40].mean()) > 4 * float(detail[:, 56:].mean())


def test_bad_size_is_refused_in_one_line() -> None:
    cmd = [sys.executable, "benchmarks/classical_baselines.py", "--size", "640by427"]
    proc = run_child(cmd, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and "expected WIDTHxHEIGHT of at least 24 each, got '640by427'" in proc.stderr


def test_model_options_reach_the_model_and_name_the_row() -> None:
    cmd = [sys.executable, "benchmarks/classical_baselines.py", "--models", "lbp", "--size", "48x32",
           "--repeats", "1", "--threads", "1", "--model-option", "matting_solver=cg",
           "--model-option", "bp_iterations=3"]  # fmt: skip
    proc = run_child(cmd, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert re.search(ROW.format(re.escape("lbp matting_solver=cg bp_iterations=3")), proc.stdout), proc.stdout


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "matting_solvr=cg",
            "--model-option: lbp has no option(s) matting_solvr; did you mean matting_solver?",
        ),
        ("matting_solver=lu", "lbp matting_solver must be 'auto', 'direct' or 'cg', got 'lu'"),
        ("matting_solver", "--model-option 'matting_solver': expected KEY=VALUE"),
    ],
)
def test_bad_model_options_are_refused_in_one_line(option: str, message: str) -> None:
    cmd = [sys.executable, "benchmarks/classical_baselines.py", "--models", "lbp", "--size", "48x32",
           "--model-option", option]  # fmt: skip
    proc = run_child(cmd, cwd=REPO, timeout=60)
    assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
