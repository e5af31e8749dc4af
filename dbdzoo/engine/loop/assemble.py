"""Build every object a training run needs from its config, identically on every rank."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .. import dist
from ..builders import build_model_and_objective, build_train_streams, build_val_loader
from ..dist import DistContext
from ..loaders import BatchStream, domain_batches
from ..optim import build_optimizer, build_scheduler
from ..runtime import seed_everything
from .state import Training, TrainState, adversary_of


def assemble(config: dict[str, Any], ctx: DistContext, say: Callable[[str], None]) -> Training:
    """Model, objective, optimisers, schedules, scalers, EMA and the data streams of one run."""
    tr = config["trainer"]
    seed_everything(config["seed"])  # the same initial weights on every rank
    model, objective = build_model_and_objective(config)
    model_config = dict(config["model"])  # the create_model arguments a checkpoint rebuilds from
    model.to(ctx.device)
    objective.to(ctx.device)
    if tr["sync_bn"] and ctx.distributed:
        n_params = sum(p.numel() for p in model.parameters())
        model = dist.convert_sync_batchnorm(model)
        if sum(p.numel() for p in model.parameters()) != n_params:  # e.g. DMENet's shift-only BN
            raise ValueError(
                f"trainer.sync_bn=true would drop parameters of {model_config['name']}'s custom norm "
                "layers; train it with trainer.sync_bn=false"
            )
    if tr["channels_last"]:
        model.to(memory_format=torch.channels_last)
    if tr.get("init_from"):  # weights only (fine-tuning, staged schedules); the run itself starts at step 0
        from ...backbones import load_strict
        from ...hub import load_model

        load_strict(model, load_model(tr["init_from"]).state_dict(), str(tr["init_from"]))
        say(f"initialised weights from {tr['init_from']}")

    adversary = adversary_of(objective)
    adversary_ids = {id(p) for p in adversary.parameters()} if adversary is not None else set()
    objective_params = [
        (n, p) for n, p in objective.named_parameters() if p.requires_grad and id(p) not in adversary_ids
    ]
    streams = build_train_streams(config["data"], ctx, config["seed"])
    accum, max_steps = int(tr["grad_accum"]), int(tr["max_steps"])
    steps_per_epoch = max(1, next(iter(streams.values())).steps_per_epoch // accum)

    def optimiser_and_schedule(module: nn.Module, optim_cfg: dict, extra=()) -> tuple[Any, Any]:
        optimizer = build_optimizer(module, optim_cfg, extra=list(extra))
        return optimizer, build_scheduler(optimizer, config["sched"], max_steps, steps_per_epoch)

    def scaler() -> torch.amp.GradScaler:
        return torch.amp.GradScaler(ctx.device.type, enabled=tr["precision"] == "fp16")

    optimizer, scheduler = optimiser_and_schedule(model, config["optim"], objective_params)
    adv_optimizer = adv_scheduler = adv_scaler = None
    if adversary is not None:
        adv_optim_cfg = config.get("optim_adversary") or config["optim"]
        adv_optimizer, adv_scheduler = optimiser_and_schedule(adversary, adv_optim_cfg)
        adv_scaler = scaler()
    ema = None
    if tr["ema"]["enabled"]:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(tr["ema"]["decay"]), use_buffers=True)
    state = TrainState(
        model, objective, optimizer, scheduler, scaler(), adv_optimizer, adv_scheduler, adv_scaler, ema
    )
    return Training(
        state=state,
        streams=streams,
        val_loader=build_val_loader(config["data"], ctx, config["seed"]),
        steps_per_epoch=steps_per_epoch,
        model_config=model_config,
        objective_params=[p for _, p in objective_params],
    )


def wrap_for_training(
    model: nn.Module, objective: nn.Module, tr: dict[str, Any], ctx: DistContext
) -> nn.Module:
    """``torch.compile`` then DDP, in timm's and nanoGPT's order; the plain model stays for saving."""
    wrapped: Any = model
    if tr["compile"]:
        wrapped = torch.compile(model, mode=None if tr["compile"] in (True, "default") else tr["compile"])
    if ctx.distributed:
        # objectives that run the network once per data domain keep per-rank BN buffers: broadcasting
        # rank 0's before every forward would mix the domains' statistics
        wrapped = DDP(
            wrapped,
            device_ids=[ctx.local_rank] if ctx.device.type == "cuda" else None,
            broadcast_buffers=objective.ddp_broadcast_buffers,
        )
    return wrapped


def batches_from(streams: dict[str, BatchStream], consumed: int) -> Iterator[tuple[int, Any]]:
    """(epoch, batch) pairs resuming after ``consumed`` micro-batches; one dict per domain for DMENet."""
    if "main" in streams:
        return streams["main"].iterate(consumed)
    return domain_batches(streams, consumed)
