"""Child processes for signal tests: output to files, polled with deadlines (a module: conftest cannot be
imported by name).

A blocking ``readline`` on a child's pipe waits forever when the child prints nothing; here the child
writes to files, every wait polls them against a deadline, and ``__exit__`` kills the child's whole
process group (``start_new_session=True``), DataLoader workers included, whatever the test did.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: a tiny FPN on 32² synthetic images that trains until stopped (no checkpoint or validation of its own)
TINY_ENDLESS_RUN = [
    "debug=fast", "model.backbone=tiny_vgg", "model.decoder_channels=8", "data.train.size=32",
    "data.val.size=32", "trainer.max_steps=100000", "trainer.ckpt_every=100000",
    "trainer.val_every=100000", "logger.log_every=1",
]  # fmt: skip


class Child:
    """``python ARGS`` in its own session, stdout and stderr in files under ``folder``."""

    def __init__(self, args: list[str], folder: Path, name: str = "child", stdin: bool = False) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, *args], cwd=REPO, env=env, stdout=out, stderr=err, text=True,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    @property
    def stdout(self) -> str:
        return self.out_path.read_text()

    @property
    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
        """Poll ``condition()``; fail with the child's output if it exits first or at the deadline."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                state = f"exited with {self.proc.returncode}" if self.proc.poll() is not None else "timed out"
                raise AssertionError(
                    f"waiting for {what}: child {state}\n{self.stdout[-2000:]}\n{self.stderr[-3000:]}"
                )
            time.sleep(0.05)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 180) -> str:
        """Poll stdout until ``predicate(stdout)`` holds (deadline and exit as in ``wait_until``)."""
        self.wait_until(lambda: predicate(self.stdout), what, timeout)
        return self.stdout

    def wait_for_line(self, prefix: str, timeout: float = 180) -> str:
        """The first stdout line starting with ``prefix`` (polled, with a deadline)."""
        out = self.wait_for(
            lambda o: any(x.startswith(prefix) for x in o.splitlines()), repr(prefix), timeout
        )
        return next(x for x in out.splitlines() if x.startswith(prefix))

    def signal_group(self, signum: int) -> int:
        """Send ``signum`` to every process of the child's session; returns stdout's length at that moment."""
        printed = len(self.stdout)
        os.killpg(self.proc.pid, signum)
        return printed

    def wait(self, timeout: float = 180) -> int:
        """The exit code; at the deadline the group is killed and the test fails with the output."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self.kill_group()
            raise AssertionError(
                f"child still running after {timeout} s\n{self.stdout[-2000:]}\n{self.stderr[-3000:]}"
            ) from exc

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.kill_group()  # the leader may be gone while orphaned workers still hold the group


def train_child(folder: Path, *overrides: str) -> Child:
    """``python train.py`` on the tiny endless run, its run directory ``folder / "run"``."""
    return Child(
        ["train.py", *TINY_ENDLESS_RUN, *overrides, f"hydra.run.dir={folder / 'run'}"], folder, "train"
    )


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its reaper counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():  # Linux: no entry, no process
            return False
    try:  # no /proc (macOS): signal 0 only checks that the pid exists
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
