"""The Hydra entry points behind ``train.py``, ``eval.py``, ``dbdzoo train`` and ``dbdzoo eval``.

It composes from the configs ``config/location.py`` finds (a checkout's ``configs/`` or the copy a wheel
ships as ``dbdzoo/configs``), tees what a run prints into ``<run dir>/<task>.log``, and turns a user error into one
line naming what to change; ``HYDRA_FULL_ERROR=1`` shows the whole traceback instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from ..files import describe_os_error
from .config import config_dir
from .loop.interrupts import TrainingInterrupted
from .run_folder import RunFolderInUse, RunFolderLock


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
    if isinstance(exc, OSError):  # "[Errno 28] ..." says less than "no space left on device: <file>"
        return describe_os_error(exc)
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0]


#: overrides that become part of the run folder's path (``${paths.log_dir}/${task_name}/...``)
_PATH_KEYS = ("task_name", "experiment")


def check_path_overrides(argv: Sequence[str]) -> None:
    """Refuse ``task_name=../x`` or ``experiment=../x``: they would place the run outside ``paths.log_dir``."""
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        if sep and key in _PATH_KEYS and (".." in Path(value).parts or value.startswith(("/", "\\"))):
            raise ValueError(
                f"{key}={value!r}: contains '..' or is absolute, which would place the run outside "
                "paths.log_dir; use a plain name (set hydra.run.dir=<folder> to choose the folder)"
            )


def _one_line_startup_errors(task: str):  # noqa: ANN202
    """Hydra's ``run_and_report`` prints a chained traceback when it cannot create the run folder or its
    ``.hydra`` files (full disk, ``/proc/x``); file errors become one line instead."""
    from hydra._internal import utils as hydra_utils

    original = hydra_utils.run_and_report

    def run_and_report(func):  # noqa: ANN001, ANN202
        try:
            return func()
        except OSError as exc:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            sys.stderr.write(f"{task}: error: {describe_os_error(exc)}\n")
            sys.exit(1)
        except Exception as exc:
            caught = exc

            def again() -> None:
                raise caught

            return original(again)  # Hydra's own report for config errors

    return hydra_utils, original, run_and_report


def run_task(task: str, fn: Callable[[Any], Any], cfg: Any) -> Any:
    """Run ``fn(cfg)`` with output teed to ``<output_dir>/<task>.log`` and one-line user errors."""
    try:
        check_path_overrides([f"task_name={cfg.get('task_name') or task}"])  # also when a config file set it
    except ValueError as exc:
        sys.stderr.write(f"{task}: error: {exc}\n")
        sys.exit(1)
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
                with contextlib.suppress(OSError):  # the disk that failed the run may refuse the log too
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
    try:
        check_path_overrides(sys.argv[1:] if argv is None else argv)
    except ValueError as exc:
        sys.stderr.write(f"{task}: error: {exc}\n")
        sys.exit(1)
    hydra_utils, original, patched = _one_line_startup_errors(task)
    saved = sys.argv
    if argv is not None:
        sys.argv = [prog or f"dbdzoo {task}", *argv]
    hydra_utils.run_and_report = patched
    try:
        wrapped()
    finally:
        hydra_utils.run_and_report = original
        sys.argv = saved
