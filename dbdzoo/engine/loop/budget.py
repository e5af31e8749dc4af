"""Time-boxed training that still ends on its schedule: ``trainer.time_budget_s``.

GPU time comes in short slots (a Slurm wall limit, a lent machine for ten minutes). Stopping a run by the
clock cuts a poly or cosine schedule mid-way, at a high learning rate. Instead the loop trains
``trainer.budget_probe_steps`` real steps, measures the step time (data included) and one validation, and
re-sizes ``max_steps`` (and every LR schedule with it) so that training, its validations and the release
fit the time left. The probe steps are ordinary training steps; nothing is thrown away.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch

from ..optim import build_scheduler

#: steps excluded from the step-time measurement (cuDNN autotuning, allocator warm-up, first batches)
WARMUP_STEPS = 3
#: fraction of the measured time left that the schedule may fill (step time varies with the data)
SAFETY = 0.92


@dataclass
class Budget:
    """The clock of one budgeted run: started when ``train()`` was called."""

    seconds: float
    probe_steps: int
    started: float  # now() at train() entry
    probe_started: float | None = None

    def elapsed(self) -> float:
        return now() - self.started


def budget_of(tr: dict[str, Any], started: float) -> Budget | None:
    """The run's budget from ``trainer.time_budget_s`` (``None``: train ``max_steps`` as configured)."""
    seconds = tr.get("time_budget_s")
    if not seconds:
        return None
    return Budget(float(seconds), int(tr.get("budget_probe_steps") or 20), started)


def sized_steps(
    time_left: float, step_s: float, val_s: float, val_every: int, reserve_s: float, min_steps: int
) -> int:
    """How many steps in all fit ``time_left`` with a validation every ``val_every`` steps.

    ``reserve_s`` is what the end of the run costs after the last step (final validation, the all-blur
    row, checkpoint and release). Never fewer than ``min_steps`` (the steps already trained).
    """
    usable = SAFETY * (time_left - reserve_s)
    per_step = step_s + (val_s / val_every if val_s > 0 else 0.0)
    extra = math.floor(usable / per_step) if usable > 0 and per_step > 0 else 0
    return max(min_steps, min_steps + extra)


def now() -> float:
    """The budget's clock (one function, so tests can drive it)."""
    return time.perf_counter()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def resize_schedules(
    state: Any, config: dict[str, Any], max_steps: int, steps_per_epoch: int, done: int
) -> None:
    """Rebuild every LR schedule for ``max_steps`` in all and advance it to step ``done``.

    ``LambdaLR`` keeps its schedule in a closure, not in its state, so a schedule of another length is
    a new scheduler; the optimiser's ``initial_lr`` stays the base of both.
    """
    config["trainer"]["max_steps"] = max_steps  # checkpoints record the sized length (a resume keeps it)
    config["trainer"]["budgeted_max_steps"] = max_steps
    state.scheduler = _advanced(state.optimizer, config["sched"], max_steps, steps_per_epoch, done)
    if state.adv_optimizer is not None:  # the adversary follows the same schedule (see assemble)
        state.adv_scheduler = _advanced(
            state.adv_optimizer, config["sched"], max_steps, steps_per_epoch, done
        )


def _advanced(optimizer: torch.optim.Optimizer, sched_cfg: dict, max_steps: int, per_epoch: int, done: int):
    scheduler = build_scheduler(optimizer, sched_cfg, max_steps, per_epoch)
    with warnings.catch_warnings():  # a resume re-sizes before its first optimizer.step(): expected here
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step", category=UserWarning)
        for _ in range(done):
            scheduler.step()
    return scheduler


class BudgetClock:
    """Probe, size and police one budgeted run from the loop's point of view.

    The loop asks ``validation_due`` (a validation right after the probe measures its cost),
    reports validation and checkpoint durations (``note_validation``, ``note_save``), times each step
    (``measure_step``), takes the new ``max_steps`` from ``size`` once, at ``end_of_probe``, and afterwards
    stops the run early only when ``out_of_time`` says the next step would not fit (the estimate was
    wrong): a stop that still validates and saves.
    """

    def __init__(self, budget: Budget, start_step: int, device: torch.device, has_val: bool) -> None:
        self.budget, self.device, self.has_val = budget, device, has_val
        self.start_step = start_step
        self.probe_end = start_step + max(budget.probe_steps, WARMUP_STEPS + 2)
        self.t_probe: float | None = None
        self.step_s = self.val_s = self.save_s = 0.0
        self.sized = False

    def before_step(self, step: int) -> None:
        if self.t_probe is None and step == self.start_step + WARMUP_STEPS:
            sync(self.device)
            self.t_probe = now()

    def end_of_probe(self, step: int) -> bool:
        return not self.sized and step >= self.probe_end

    def validation_due(self, step: int) -> bool:
        return self.has_val and self.end_of_probe(step)

    def note_validation(self, seconds: float) -> None:
        self.val_s = max(self.val_s, seconds)

    def note_save(self, seconds: float) -> None:
        self.save_s = max(self.save_s, seconds)

    def reserve(self) -> float:
        """The end of a run after its last step: final validation, the all-blur row, saves, release."""
        return 2 * self.val_s + 3 * self.save_s + 2.0

    def measure_step(self, step: int) -> None:
        sync(self.device)
        measured = step - self.start_step - WARMUP_STEPS
        self.step_s = (now() - (self.t_probe or self.budget.started)) / max(1, measured)

    def size(self, step: int, val_every: int) -> int:
        """The run's new length in steps (at least ``step``), from the probe's measurements."""
        self.sized = True
        time_left = self.budget.seconds - self.budget.elapsed()
        return sized_steps(time_left, self.step_s, self.val_s, val_every, self.reserve(), step)

    def out_of_time(self) -> bool:
        """Whether one more step and the end of the run no longer fit (checked every step after sizing)."""
        if not self.sized:
            return False
        return self.budget.elapsed() + self.step_s + self.reserve() > self.budget.seconds
