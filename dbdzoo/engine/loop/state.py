"""A run's state in one place: the stateful parts (what a checkpoint holds and a resume restores), the
built run (``Training``) and where it stands (``Run``: the one object the loop's functions take)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ... import __version__
from ...losses import AdversarialObjective, Objective
from ..checkpoint import config_difference, rng_state
from ..dist import DistContext


@dataclass
class TrainState:
    """The stateful training objects; ``None`` where a run has no such part (no adversary, no EMA)."""

    model: nn.Module
    objective: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    adv_optimizer: torch.optim.Optimizer | None = None
    adv_scheduler: Any = None
    adv_scaler: torch.amp.GradScaler | None = None
    ema: nn.Module | None = None

    def to_checkpoint(
        self, *, step: int, epoch: int, best: float | None, config: dict, model_config: dict
    ) -> dict:
        """A plain dict that ``torch.load(weights_only=True)`` reads back (configs as containers)."""

        def sd(obj: Any) -> Any:
            return obj.state_dict() if obj is not None else None

        return {
            "model": self.model.state_dict(),
            "objective": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "adversary_optimizer": sd(self.adv_optimizer),
            "adversary_scheduler": sd(self.adv_scheduler),
            "adversary_scaler": sd(self.adv_scaler),
            "ema": sd(self.ema),
            "epoch": epoch,
            "global_step": step,
            "best_metric": best,
            "rng": rng_state(),
            "config": config,
            "model_config": model_config,
            "dbdzoo_version": __version__,
        }

    def restore(
        self, ckpt: dict, source: Path, *, config: dict, model_config: dict
    ) -> tuple[int, float | None]:
        """Load ``ckpt`` into every part; refuses another model config. Returns (step, best metric)."""
        diffs = config_difference(ckpt.get("model_config"), model_config)
        if diffs:
            raise ValueError(
                f"cannot resume from {source}: it was trained with another model config: "
                + "; ".join(diffs[:10])
            )
        self.model.load_state_dict(ckpt["model"])
        self.objective.load_state_dict(ckpt["objective"])
        try:
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except ValueError as exc:
            raise ValueError(
                f"cannot resume from {source}: optimiser layout differs ({exc}); see config difference: "
                + "; ".join(config_difference(ckpt["config"].get("optim"), config["optim"]))
            ) from exc
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        for part, key in ((self.adv_optimizer, "adversary_optimizer"), (self.adv_scheduler, "adversary_scheduler"),
                          (self.adv_scaler, "adversary_scaler"), (self.ema, "ema")):  # fmt: skip
            if part is not None and ckpt.get(key) is not None:
                part.load_state_dict(ckpt[key])
        return int(ckpt["global_step"]), ckpt.get("best_metric")


@dataclass
class Training:
    """What the loop works with: the stateful parts plus the data and the run's fixed facts."""

    state: TrainState
    streams: dict[str, Any]
    val_loader: Any
    steps_per_epoch: int
    model_config: dict[str, Any]
    #: trainable objective parameters (a learned loss weighting); their gradients need averaging in DDP
    objective_params: list[nn.Parameter]


@dataclass
class Run:
    """One run as the loop's functions see it: its config, the ranks, the built parts, and where it
    stands (``step`` optimiser steps done, ``best`` monitored value so far)."""

    config: dict[str, Any]
    ctx: DistContext
    parts: Training
    run_dir: Path
    step: int = 0
    best: float | None = None

    @property
    def tr(self) -> dict[str, Any]:
        """The ``trainer`` section: the loop's own settings."""
        return self.config["trainer"]

    @property
    def state(self) -> TrainState:
        return self.parts.state

    @property
    def ckpt_dir(self) -> Path:
        return self.run_dir / "checkpoints"


def adversary_of(objective: Objective) -> nn.Module | None:
    """The discriminator of an adversarial objective, ``None`` for single-player objectives."""
    return objective.adversary if isinstance(objective, AdversarialObjective) else None
