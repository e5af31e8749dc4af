"""One optimiser step: micro-batches with gradient accumulation, the adversary, schedules and EMA.

Read with ``state.py`` (the ``Run`` it advances) and ``dbdzoo/losses/objective.py`` (what
``objective(model, batch)`` returns), it is the whole step.

Nothing here waits for the device: losses stay tensors and a non-finite loss only raises a flag
tensor. The loop reads both at its log interval (``.item()`` and the all-reduce happen there), so a
step costs no host–device synchronisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .. import dist
from ..loaders import batch_size_of, to_device
from ..precision import autocast_context
from .state import Run, adversary_of


@dataclass
class StepLog:
    """What the loop reports: the last micro-batch's losses, images seen, first non-finite step."""

    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    images: int = 0
    epoch: int = 0
    #: the 0-based step whose loss first was not finite, -1 while all were (a tensor: no sync)
    first_bad_step: torch.Tensor | None = None


def adversary_step(run: Run) -> torch.Tensor:
    """One discriminator update on the features the objective cached (detached)."""
    state, ctx, precision = run.state, run.ctx, run.tr["precision"]
    with autocast_context(ctx.device, precision):
        adv_loss = state.objective.adversary_loss().float()
    state.adv_optimizer.zero_grad(set_to_none=True)
    state.adv_scaler.scale(adv_loss).backward()
    if ctx.distributed:
        dist.average_gradients(list(adversary_of(state.objective).parameters()), ctx.world_size)
    state.adv_scaler.step(state.adv_optimizer)
    state.adv_scaler.update()
    return adv_loss.detach()


def train_step(run: Run, train_model: nn.Module, batches: Iterator[tuple[int, Any]], log: StepLog) -> None:
    """Advance every stateful part by optimiser step ``run.step``; records into ``log`` without syncing.

    ``train_model`` is the network as it trains (compiled, DDP-wrapped), ``batches`` the (epoch, batch)
    stream; ``run.step`` itself is advanced by the loop.
    """
    state, ctx, tr, step = run.state, run.ctx, run.tr, run.step
    accum, precision = int(tr["grad_accum"]), tr["precision"]
    objective = state.objective
    adversarial = adversary_of(objective) is not None
    adversary_first = adversarial and objective.adversary_first
    for micro in range(accum):
        log.epoch, batch = next(batches)
        batch = to_device(batch, ctx.device, tr["channels_last"])
        no_sync = train_model.no_sync() if ctx.distributed and micro < accum - 1 else nullcontext()
        with no_sync:
            with autocast_context(ctx.device, precision):
                losses = objective(train_model, batch)
            if adversary_first:  # the original DMENet order: D on this step's features, then G vs new D
                losses["loss_adversary"] = adversary_step(run)
                with autocast_context(ctx.device, precision):
                    g_adv = objective.generator_adversary_loss()
                losses = {**losses, "loss_adv": g_adv.detach(), "loss": losses["loss"] + g_adv}
            loss = losses["loss"].float()
            bad = ~torch.isfinite(loss.detach())
            log.first_bad_step = torch.where(
                bad & (log.first_bad_step < 0), torch.full_like(log.first_bad_step, step), log.first_bad_step
            )
            state.scaler.scale(loss / accum).backward()
        log.images += batch_size_of(batch)
    if ctx.distributed and run.parts.objective_params:
        dist.average_gradients(run.parts.objective_params, ctx.world_size)
    if tr["clip_grad"]:
        state.scaler.unscale_(state.optimizer)
        params = [p for g in state.optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, tr["clip_grad"])
    state.scaler.step(state.optimizer)
    state.scaler.update()
    state.optimizer.zero_grad(set_to_none=True)
    state.scheduler.step()
    if adversarial:
        if not adversary_first:
            losses = {**losses, "loss_adversary": adversary_step(run)}
        state.adv_scheduler.step()
    if state.ema is not None:
        state.ema.update_parameters(state.model)
    log.losses = {k: v.detach() for k, v in losses.items()}


def new_step_log(device: torch.device) -> StepLog:
    return StepLog(first_bad_step=torch.full((), -1, dtype=torch.long, device=device))
