"""Everything a training checkpoint holds and a resume restores, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ... import __version__
from ..checkpoint import config_difference, rng_state


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
