"""Ctrl-C and SIGTERM end a run at a step boundary with its checkpoint saved.

A signal only sets a flag; the loop finishes the step it is in, saves ``last.pt`` at that step and
raises :class:`TrainingInterrupted`, which the entry points turn into one line and exit code
128 + signal number. A second signal while saving falls back to the default behaviour (the save is
atomic, so that cannot leave a torn checkpoint either).

``timeout``, Slurm's ``scancel``, Kubernetes and Ctrl-C in a terminal signal the whole job, DataLoader
workers included. Workers leave the stop to this process (``data.seeding.leave_signals_to_main_process``,
run by ``seed_worker``): they ignore the signal, keep serving batches until the step boundary and exit
when their loader shuts down, so a job-wide signal ends like one sent to this process alone.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class TrainingInterrupted(Exception):
    """The run stopped early on a signal; ``exit_code`` follows the shell convention 128 + signum."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class StopOnSignal:
    """Context manager that records SIGINT/SIGTERM instead of raising inside a training step."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # second signal: stop waiting for the step boundary
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        self.signum = signum

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():  # handlers only install there
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
