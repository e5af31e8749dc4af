"""``benchmarks/gpu_slot_tree.py``: what a device call would send, and parking the package weights for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers.child import run_child

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_slot_tree.py"


def run(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return run_child([sys.executable, str(SCRIPT), *args], cwd=repo, timeout=60)


def git(repo: Path, *args: str) -> str:
    proc = run_child(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git checkout shaped like dbdzoo's: 3 MiB of tracked weights, a small file, an ignored data folder."""
    git(tmp_path, "init", "-q", str(tmp_path))
    (tmp_path / "dbdzoo" / "weights").mkdir(parents=True)
    (tmp_path / "dbdzoo" / "weights" / "m.safetensors").write_bytes(b"\1" * 3 * 2**20)
    (tmp_path / "README.md").write_text("x\n")
    (tmp_path / ".gitignore").write_text("/data/\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "big.bin").write_bytes(b"\0" * 2**20)
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "init")
    return tmp_path


def total_mib(stdout: str) -> float:
    line = next(line for line in stdout.splitlines() if line.strip().startswith("total:"))
    return float(line.split(":")[1].split()[0])


def test_size_counts_the_tree_and_carried_paths_but_not_ignored_ones(repo):
    assert total_mib(run(repo, "size").stdout) == pytest.approx(3.0, abs=0.05)
    proc = run(repo, "size", "--carry", "data")
    assert proc.returncode == 0 and total_mib(proc.stdout) == pytest.approx(4.0, abs=0.05)
    missing = run(repo, "size", "--carry", "nope")
    assert missing.returncode == 1 and "carry path 'nope' does not exist" in missing.stderr


def test_park_leaves_the_weights_on_disk_but_out_of_the_call_and_restore_undoes_it(repo):
    weights = repo / "dbdzoo" / "weights" / "m.safetensors"
    assert run(repo, "park").returncode == 0
    assert weights.stat().st_size == 3 * 2**20  # untouched on disk
    parked = run(repo, "size")
    assert total_mib(parked.stdout) < 0.01 and "package weights parked" in parked.stdout
    assert run(repo, "park").returncode == 0  # twice is harmless
    assert run(repo, "restore").returncode == 0
    assert git(repo, "status", "--porcelain") == ""  # tracked again, exclude line gone: nothing to commit
    assert total_mib(run(repo, "size").stdout) == pytest.approx(3.0, abs=0.05)
