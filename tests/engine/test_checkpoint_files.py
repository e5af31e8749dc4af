"""Checkpoint files get the mode a normal ``open()`` would give them, not mkstemp's 0600."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from dbdzoo.engine.checkpoint import atomic_torch_save, default_file_mode


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_save_uses_the_umask_mode(tmp_path, umask) -> None:
    old = os.umask(umask)
    try:
        assert default_file_mode() == 0o666 & ~umask
        path = atomic_torch_save({"x": torch.ones(2)}, tmp_path / "last.pt")
        reference = tmp_path / "plain"
        reference.write_bytes(b"")
        assert os.umask(umask) == umask  # default_file_mode() left the umask as it was
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == stat.S_IMODE(reference.stat().st_mode) == 0o666 & ~umask, oct(mode)
    assert torch.load(path, weights_only=True)["x"].sum() == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
