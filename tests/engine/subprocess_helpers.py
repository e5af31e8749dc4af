"""Training children for the signal tests, on the shared deadline helper (a module: conftest cannot be
imported by name).

``helpers.child`` keeps every wait bounded even when the child prints nothing and kills the child's whole
process group (``start_new_session=True``), DataLoader workers included, whatever the test did.
"""

from __future__ import annotations

import sys
from pathlib import Path

from helpers.child import Child as _Child
from helpers.child import running

__all__ = ["Child", "TINY_ENDLESS_RUN", "children", "ignores", "running", "train_child"]

#: a tiny FPN on 32² synthetic images that trains until stopped (no checkpoint or validation of its own)
TINY_ENDLESS_RUN = [
    "debug=fast", "model.backbone=tiny_vgg", "model.decoder_channels=8", "data.train.size=32",
    "data.val.size=32", "trainer.max_steps=100000", "trainer.ckpt_every=100000",
    "trainer.val_every=100000", "logger.log_every=1",
]  # fmt: skip


class Child(_Child):
    """``python ARGS`` (this interpreter) in its own session, stdout and stderr in files under ``folder``."""

    def __init__(self, args: list[str], folder: Path, name: str = "child", stdin: bool = False) -> None:
        super().__init__([sys.executable, *args], folder, name, stdin=stdin)


def train_child(folder: Path, *overrides: str) -> Child:
    """``python train.py`` on the tiny endless run, its run directory ``folder / "run"``."""
    return Child(
        ["train.py", *TINY_ENDLESS_RUN, *overrides, f"hydra.run.dir={folder / 'run'}"], folder, "train"
    )


def children(pid: int) -> list[int]:
    """Live child processes of ``pid``, read from ``/proc`` (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(ppid) == pid and state not in ("Z", "X"):
            found.append(int(stat.parent.name))
    return found


def ignores(pid: int, signum: int) -> bool:
    """Whether ``pid`` has ``signum`` set to SIG_IGN (the ``SigIgn`` mask of ``/proc/<pid>/status``)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(mask, 16) >> (signum - 1) & 1)
