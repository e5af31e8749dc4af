"""Child processes whose deadlines hold even when the child prints nothing.

A ``for line in proc.stdout`` or ``readline()`` loop blocks forever on a child that hangs silently, and
``subprocess.run(timeout=...)`` kills only the child, then waits for end-of-file on pipes that its own
children (DataLoader workers, torchrun ranks) still hold. Here the child runs in its own session with its
output in files, every wait polls against a deadline, and at the deadline the whole process group is
killed and the test fails with the tail of the child's output. Every subprocess test goes through this.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch.multiprocessing import ProcessContext

REPO = Path(__file__).resolve().parents[2]


class ChildTimeout(AssertionError):
    """A child missed its deadline (an ``AssertionError``: the test fails, the session goes on)."""


class Child:
    """``argv`` in its own session, stdout and stderr in files under ``folder`` (a private one if None)."""

    def __init__(
        self,
        argv: list[str],
        folder: Path | None = None,
        name: str = "child",
        *,
        cwd: Path | str = REPO,
        env: dict[str, str] | None = None,
        stdin: bool = False,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self._private = None if folder is not None else tempfile.TemporaryDirectory(prefix="child-")
        folder = Path(self._private.name) if self._private is not None else folder
        folder.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        # Unbuffered, so the tail shows the latest; print(a, b) is then several writes, so a child whose
        # processes print at the same time must write each line in one call (sys.stdout.write(line)).
        env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(
                self.argv, cwd=cwd, env=env, stdout=out, stderr=err, text=True,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def tail(self) -> str:
        """The command and the last lines it printed, for failure messages."""
        return (
            f"command: {shlex.join(self.argv)}\n--- stdout (tail) ---\n{self.stdout[-2000:]}"
            f"\n--- stderr (tail) ---\n{self.stderr[-3000:]}"
        )

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
        """Poll ``condition()``; fail with the child's output if it exits first or at the deadline."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"waiting for {what}: child exited with {self.proc.returncode}\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                self.kill_group()
                raise ChildTimeout(f"waiting for {what}: no sign after {timeout:g} s (killed)\n{self.tail()}")
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
            raise ChildTimeout(f"child still running after {timeout:g} s (killed)\n{self.tail()}") from exc

    def kill_group(self) -> None:
        """SIGKILL the whole session: the leader may be gone while orphaned workers still hold the group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=60)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.kill_group()
        if self._private is not None:
            self._private.cleanup()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_child(
    argv: list[str],
    *,
    timeout: float,
    cwd: Path | str = REPO,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """``subprocess.run(argv, capture_output=True, text=True)`` whose ``timeout`` holds: at the deadline
    the child's process group is killed and ``ChildTimeout`` carries the tail of its output."""
    with Child(argv, cwd=cwd, env=env) as child:
        code = child.wait(timeout)
        return subprocess.CompletedProcess(child.argv, code, child.stdout, child.stderr)


def join_spawned(context: ProcessContext, timeout: float) -> None:
    """Join ``torch.multiprocessing.start_processes(..., join=False)`` with a deadline: a rank that hangs
    silently (a collective waiting on a peer) is killed with the others and the test fails; a rank that
    fails raises as ``start_processes`` would. Their output is in the test's captured stdout/stderr."""
    deadline = time.monotonic() + timeout
    while not context.join(timeout=max(0.0, min(1.0, deadline - time.monotonic()))):
        if time.monotonic() >= deadline:
            alive = [p for p in context.processes if p.is_alive()]
            for process in alive:
                process.kill()
            for process in alive:
                process.join(60)
            raise ChildTimeout(
                f"spawned processes {[p.pid for p in alive]} still running after {timeout:g} s (killed); "
                "their output is in the captured stdout/stderr"
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
