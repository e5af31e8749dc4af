"""Progress for long loops whose stderr is a log file or a pipe (a leaf module: standard library only).

tqdm draws nothing when stderr is not a terminal, so a piped ``dbdzoo predict`` or ``eval`` used to
run for minutes in silence. ``ProgressLog`` prints one plain line every ``interval`` seconds instead
(``predict: 12/100 img, 3.1 img/s, ~28 s left``), and stays quiet on a terminal where the bar shows.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressLog:
    """Periodic ``done/total`` + rate lines on a non-terminal stream.

    Args:
        total: number of units the loop will process.
        label: first word of every line (the command or dataset).
        unit: what is counted (``img``).
        interval: seconds between lines.
        stream: where lines go (default ``sys.stderr``, looked up when used).
        force: print even when ``stream`` is a terminal (``None``: only when it is not one).
        clock: monotonic seconds; tests inject a fake one.
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        unit: str = "img",
        interval: float = 5.0,
        stream: TextIO | None = None,
        force: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.label, self.unit, self.interval = total, label, unit, interval
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = (not isatty()) if force is None else force
        self.clock = clock
        self.done = 0
        self.start = self.last = clock()

    def line(self) -> str:
        """The current progress line (no newline)."""
        elapsed = max(self.clock() - self.start, 1e-9)
        rate = self.done / elapsed
        text = f"{self.label}: {self.done}/{self.total} {self.unit}, {rate:.3g} {self.unit}/s"
        if 0 < self.done < self.total and rate > 0:
            text += f", ~{(self.total - self.done) / rate:.0f} s left"
        return text

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units; print a line when ``interval`` has passed since the last one."""
        self.done += n
        now = self.clock()
        if self.enabled and now - self.last >= self.interval:
            self.last = now
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        """A final line (when any line was due at all, i.e. the loop outlived one interval)."""
        if self.enabled and self.last != self.start:
            print(self.line(), file=self.stream, flush=True)
