"""``--threads``: torch's thread count follows the option, else $OMP_NUM_THREADS, else the CPUs this process may use."""

from __future__ import annotations

import os

import pytest
import torch

from dbdzoo.cli import CLIError, available_cpus, configure_threads, main


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
