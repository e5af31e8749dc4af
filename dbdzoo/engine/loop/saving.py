"""What a run writes: resumable checkpoints (``last.pt``, ``best.pt``), the release weights, its progress."""

from __future__ import annotations

from pathlib import Path
from statistics import median_high
from typing import Any

from ...hub.writer import save_release as write_release
from ..checkpoint import atomic_torch_save
from .budget import now
from .state import Run


def save_checkpoint(run: Run, path: Path, weights: str | None = None) -> Path | None:
    """Everything a resume needs at ``run.step``, written atomically by rank 0.

    ``weights`` says which network ``load_model`` returns from the file: ``ema`` (the default with EMA
    on, like the release) or ``raw``.
    """
    if not run.ctx.is_main:
        return None
    parts = run.parts
    payload = parts.state.to_checkpoint(
        step=run.step, epoch=run.step // parts.steps_per_epoch, best=run.best, config=run.config,
        model_config=parts.model_config,
    )  # fmt: skip
    payload["weights"] = weights or ("ema" if parts.state.ema is not None else "raw")
    payload["working_max_side"] = working_max_side(run.config)  # load_model("last.pt") predicts at this scale
    return atomic_torch_save(payload, path)


def working_max_side(config: dict) -> int | None:
    """``data.working_max_side``: the long side (px) of the images the run trains at (null: unknown).

    It travels with every file the run writes, so ``predict`` shrinks larger photos to the scale the
    weights learnt (``dbdzoo.models.scale``) for one's own runs as for the released weights.
    """
    return config.get("data", {}).get("working_max_side")


def weights_of_best(tr: dict) -> str:
    """``best.pt`` holds the network its monitor scored: the EMA for ``ema/...`` monitors, else the raw one."""
    return "ema" if tr["ema"]["enabled"] and str(tr["monitor"]).startswith("ema/") else "raw"


def save_release(run: Run, path: Path) -> Path:
    """The release weights: the EMA average when EMA is on (what ``load_model("last.pt")`` returns too)."""
    state = run.state
    weights = "ema" if state.ema is not None else "raw"
    model = state.ema.module if state.ema is not None else state.model
    return write_release(
        model, run.parts.model_config, path, metadata={"weights": weights},
        sidecar={"config": run.config, "step": run.step, "weights": weights},
        working_max_side=working_max_side(run.config),
    )  # fmt: skip


def progress(step: int, max_steps: int, started: float, rates: list[float]) -> dict[str, Any]:
    """The run record's progress fields, written when a run ends and when a signal stops it."""
    median = median_high(rates) if rates else None
    return {
        "step": step,
        "max_steps": max_steps,
        "wall_s": round(now() - started, 2),
        "images_per_s_median": median,
    }
