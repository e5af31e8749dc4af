"""Measured training steps before a zoo run, and the precision each stage trains in: measured, not assumed.

On the H200 (commit 77531ab), bf16 autocast + channels-last trained the FPNs at 0.77–0.85× the speed of
fp32 eager (cuDNN's TF32), while the VGG networks gained 1.6–2.4× (docs/benchmarks.md, "Optimised path").
The fix made since for the FPNs has no GPU measurement yet. So before training, the zoo times one step
each way for every stage, at the stage recipe's batch and size. Each stage then trains in whichever was
faster; the recipe's bf16 + channels-last keeps its place unless fp32 beats it by ``MARGIN``, since a few
timed steps are noisy. A user who sets ``trainer.precision`` or ``trainer.channels_last`` with ``--set``,
or passes ``--precision recipe``, gets the recipe as written. ``zoo.json`` records both timings and the
choice, and the closing table shows the choice.
"""

from __future__ import annotations

import gc
from typing import Any

import torch

from ..bench.models import bench_train_step
from ..bench.tiny import TINY_OBJECTIVE_OVERRIDES, tiny_overrides
from .plan import STAGES, experiment_of

#: the recipe's combination first: it stays unless the other is clearly faster
CANDIDATES = ("bf16_cl", "fp32")
MARGIN = 1.05
#: what each choice adds to a *_gpu recipe (trainer=gpu: bf16 + channels-last)
OVERRIDES = {"bf16_cl": [], "fp32": ["trainer.precision=fp32", "trainer.channels_last=false"]}
_PRECISION_KEYS = ("trainer.precision=", "trainer.channels_last=")


def recipe_shape(experiment: str) -> tuple[int, int]:
    """(batch, training size) of a recipe, for the measured step."""
    from hydra import compose, initialize_config_dir

    from ..engine.config import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"experiment={experiment}"])
    data = cfg.data
    spec = data.train if data.get("train") else next(iter(data.domains.values()))
    size = (spec.get("transform") or {}).get("size") or spec.get("size") or 256
    return int(data.batch_size), int(size)


def measure_step(
    model: str, device: torch.device, smoke: bool, stage: str = "synthetic", variant: str | None = None
) -> dict[str, Any]:
    """Timed training steps of ``model`` at a stage recipe's batch and size (random data).

    ``variant`` is a ``bench.TRAIN_VARIANTS`` key; by default bf16 + channels-last on CUDA, fp32 elsewhere.
    """
    batch, size = (2, 32) if smoke else recipe_shape(experiment_of(model, stage))
    overrides = tiny_overrides(model) if smoke else {"pretrained_backbone": False}
    objective = TINY_OBJECTIVE_OVERRIDES.get(model) if smoke else None
    variant = variant or ("bf16_cl" if device.type == "cuda" else "fp32")
    warmup, iters = (1, 2) if smoke else (2, 5)
    try:
        return bench_train_step(model, overrides, device, batch, size, variant=variant, warmup=warmup,
                                iters=iters, objective_kwargs=objective)  # fmt: skip
    finally:
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def user_sets_precision(overrides: list[str]) -> bool:
    """Whether ``--set`` overrides already decide the precision or layout (then the recipe stays as set)."""
    return any(o.lstrip("+~").startswith(_PRECISION_KEYS) for o in overrides)


def choose(step_ms: dict[str, float]) -> str:
    """The faster combination; the recipe's (the first candidate) unless another wins by ``MARGIN``."""
    first, *others = CANDIDATES
    best = min(others, key=step_ms.__getitem__, default=first)
    return best if step_ms[best] * MARGIN < step_ms[first] else first


def choose_precision(model: str, stage: str, device: torch.device, say=print) -> dict[str, Any]:
    """Time each candidate for one stage and pick: ``{"step_ms": {...}, "precision": key, "overrides": [...]}``."""
    step_ms = {}
    for variant in CANDIDATES:
        try:
            step_ms[variant] = measure_step(model, device, False, stage, variant)["step_ms"]
        except torch.cuda.OutOfMemoryError:  # fp32 at a batch sized for bf16: not a candidate, not a failure
            if variant == CANDIDATES[0]:
                raise  # the recipe itself does not fit: the network cannot train here
            step_ms[variant] = float("inf")
            gc.collect()  # the failed step's tensors, freed only now that the exception is handled
            torch.cuda.empty_cache()  # ... and given back: the stages train in other processes
    pick = choose(step_ms)
    recorded = {v: ms if ms < float("inf") else None for v, ms in step_ms.items()}  # None: out of memory
    say(f"measured {model} ({stage}): {_timings(recorded, ' ms')} per step; trains in {pick}")
    return {"step_ms": recorded, "precision": pick, "overrides": OVERRIDES[pick]}


def _timings(step_ms: dict[str, float | None], unit: str = "") -> str:
    return ", ".join(
        f"{v} {ms:.1f}{unit}" if ms is not None else f"{v} out of memory" for v, ms in step_ms.items()
    )


def measure_model(
    model: str, device: torch.device, *, smoke: bool, precision: str, overrides: list[str], say=print
) -> tuple[float, dict[str, dict[str, Any]]]:
    """Seconds per step (for the budget check) and, with ``precision="auto"``, each stage's measured choice."""
    if smoke or precision == "recipe" or user_sets_precision(overrides):
        ms = measure_step(model, device, smoke)["step_ms"]
        say(f"measured {model}: {ms:.1f} ms/step")
        return ms / 1000, {}
    picks = {stage: choose_precision(model, stage, device, say) for stage in STAGES}
    first = picks[STAGES[0]]
    return first["step_ms"][first["precision"]] / 1000, picks


def precision_lines(choices: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """One line per measured stage for the closing table: the timings and what it trained in."""
    return [f"{model} {stage}: trained in {c['precision']} (step ms: {_timings(c['step_ms'])})"
            for model, picks in choices.items() for stage, c in picks.items()]  # fmt: skip


__all__ = [
    "CANDIDATES", "choose", "choose_precision", "measure_model", "measure_step", "precision_lines", "recipe_shape",
    "user_sets_precision",
]  # fmt: skip
