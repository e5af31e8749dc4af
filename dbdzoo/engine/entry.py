"""The Hydra entry points behind ``train.py``, ``eval.py``, ``dbdzoo train`` and ``dbdzoo eval``.

One place decides where the configs live (a checkout's ``configs/`` or the copy a wheel ships as
``dbdzoo/configs``), tees what a run prints into ``<run dir>/<task>.log``, and turns a user error into one
line naming what to change; ``HYDRA_FULL_ERROR=1`` shows the whole traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from .interrupts import TrainingInterrupted
from .run_folder import RunFolderInUse, RunFolderLock

_PACKAGE = Path(__file__).resolve().parents[1]


def config_dir() -> Path:
    """The Hydra tree: ``dbdzoo/configs`` in an installed wheel, else the checkout's ``configs/``."""
    for candidate in (_PACKAGE / "configs", _PACKAGE.parent / "configs"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"no Hydra configs found in {_PACKAGE / 'configs'} or {_PACKAGE.parent / 'configs'}; "
        "reinstall dbdzoo (pip install dbdzoo) or run from a checkout"
    )


class _Tee:
    """A text stream that writes to the console and appends to the run's log file."""

    def __init__(self, stream: TextIO, log: TextIO) -> None:
        self._stream, self._log = stream, log

    def write(self, text: str) -> int:
        self._log.write(text)
        self._log.flush()
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()
        self._log.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding ... of the console stream
        return getattr(self._stream, name)


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (``KeyError`` without its quotes)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def run_task(task: str, fn: Callable[[Any], Any], cfg: Any) -> Any:
    """Run ``fn(cfg)`` with output teed to ``<output_dir>/<task>.log`` and one-line user errors."""
    log_path = Path(cfg.paths.output_dir) / f"{task}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stdout = sys.stdout
    lock = RunFolderLock(log_path.parent)
    if int(os.environ.get("RANK", "0")) == 0:  # torchrun ranks share rank 0's folder
        try:
            lock.acquire()  # before the log: a refused run must not write into a live run's log
        except RunFolderInUse as exc:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            sys.stderr.write(f"{task}: error: {exc}\n")
            sys.exit(1)
    try:
        with open(log_path, "a", encoding="utf-8") as log:
            sys.stdout = _Tee(stdout, log)
            try:
                return fn(cfg)
            except TrainingInterrupted as exc:  # not an error: the checkpoint is saved, say where and stop
                log.write(f"{task}: {exc}\n")
                sys.stderr.write(f"{task}: {exc}\n")
                sys.exit(exc.exit_code)
            except Exception as exc:
                if os.environ.get("HYDRA_FULL_ERROR") == "1":
                    raise
                message = f"{task}: error: {one_line(exc)}"
                log.write(message + "\n")
                sys.stderr.write(message + "\n(set HYDRA_FULL_ERROR=1 for the full traceback)\n")
                sys.exit(1)
            finally:
                sys.stdout = stdout
    finally:
        lock.release()


def main(task: str, argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """Compose ``configs/<task>.yaml`` with ``argv`` (default: the command line) and run the task."""
    import hydra

    from . import evaluate, train

    fn = {"train": train, "eval": evaluate}[task]

    def app(cfg: Any) -> None:
        run_task(task, fn, cfg)

    wrapped = hydra.main(version_base="1.3", config_path=str(config_dir()), config_name=task)(app)
    if argv is None:
        wrapped()
        return
    saved = sys.argv
    sys.argv = [prog or f"dbdzoo {task}", *argv]
    try:
        wrapped()
    finally:
        sys.argv = saved
