"""``--threads``: torch's thread count follows the option, else $OMP_NUM_THREADS, else the CPUs this process may use
(``dbdzoo predict``: those that others' work leaves idle)."""

from __future__ import annotations

import os

import pytest
import torch

from dbdzoo.cli import CLIError, available_cpus, configure_threads, main
from dbdzoo.cli.predict import idle_threads


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_default_is_the_cpus_this_process_may_use(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)  # a one-CPU container
    assert available_cpus() == 1
    assert configure_threads(None) == 1 and torch.get_num_threads() == 1


def test_the_option_wins_and_the_variable_is_respected(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    assert configure_threads(None) == 1  # the user's variable is kept
    assert configure_threads(2) == 2 and torch.get_num_threads() == 2
    with pytest.raises(CLIError, match="--threads 0: expected a positive number"):
        configure_threads(0)


def test_every_argparse_command_takes_threads(capsys):
    assert main(["list", "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1
    assert "fpn_resnet10t" in capsys.readouterr().out


def _machine(monkeypatch, cpus: int, allowed: int, load: float) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(allowed)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))


@pytest.mark.parametrize(
    ("cpus", "allowed", "load", "threads"),
    [(2, 2, 0.1, 2), (2, 2, 0.7, 1), (2, 2, 5.5, 1), (16, 16, 3.0, 13), (64, 2, 10.0, 2), (64, 2, 48.0, 1)],
)
def test_predict_leaves_the_busy_cpus_to_others(monkeypatch, cpus, allowed, load, threads):
    _machine(monkeypatch, cpus, allowed, load)  # (64, 2, ...): a 2-CPU share of a host, its load pro rata
    assert idle_threads() == threads


def test_predict_uses_idle_threads_unless_told(monkeypatch, tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / "p.png")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    _machine(monkeypatch, 2, 2, 1.2)  # one other busy process on two cores
    args = ["predict", str(tmp_path / "p.png"), "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0 and torch.get_num_threads() == 1
    assert main([*args, "--out", str(tmp_path / "b"), "--threads", "2"]) == 0 and torch.get_num_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert main([*args, "--out", str(tmp_path / "c")]) == 0 and torch.get_num_threads() == 2
