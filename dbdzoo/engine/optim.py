"""Optimisers with per-parameter-group learning rates, and step-based LR schedules."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..models import DBDModel

#: keys each ``optim`` config may hold (the group split options, then the optimiser's own)
_GROUP_OPTIONS = {
    "name",
    "lr",
    "weight_decay",
    "bias_weight_decay",
    "bias_lr_mult",
    "bias_rule",
    "backbone_lr_mult",
}
OPTIMIZER_OPTIONS = {
    "sgd": _GROUP_OPTIONS | {"momentum", "nesterov"},
    "adam": _GROUP_OPTIONS | {"betas"},
    "adamw": _GROUP_OPTIONS | {"betas"},
}
#: keys each ``sched`` config may hold
SCHEDULE_OPTIONS = {
    "constant": {"name", "warmup_steps"},
    "poly": {"name", "warmup_steps", "power"},
    "cosine": {"name", "warmup_steps", "min_lr_ratio"},
    "step": {"name", "warmup_steps", "step_size", "gamma", "unit"},
}


def check_options(cfg: dict[str, Any], where: str, table: dict[str, set[str]]) -> None:
    """Refuse an unknown ``name`` or a key that name does not read (a typo would train silently)."""
    from ..registry import did_you_mean

    name = cfg.get("name")
    if name not in table:
        raise ValueError(f"config {where}.name={name!r}: expected one of {', '.join(table)}")
    for key in sorted(set(cfg) - table[name]):
        hint = did_you_mean(key, table[name], prefix=f"{where}.")
        raise ValueError(f"config {where}.{key}: not an option of {where}.name={name}{hint}")


def param_groups(
    module: nn.Module, cfg: dict[str, Any], extra: list[tuple[str, nn.Parameter]] | None = None
) -> list[dict[str, Any]]:
    """Split parameters into backbone/head × weight/bias groups with their own lr and weight decay.

    ``bias_lr_mult: 2`` with ``bias_weight_decay: 0`` is the Caffe-era recipe BR2Net uses;
    ``backbone_lr_mult: 0.1`` gives pretrained layers a smaller step. Empty groups are dropped.
    ``bias_rule: ndim`` (default) treats every 1-D tensor (norm scales, PReLU slopes) like a bias;
    ``bias_rule: name`` only parameters named ``*.bias`` (BR2Net's ``train.py`` does exactly that).
    ``extra`` holds trainable parts of an objective that train with the network (DMENet's
    sharpness-calibration net); they join the head groups.
    """
    lr, wd = cfg["lr"], cfg.get("weight_decay", 0.0)
    bias_wd = cfg.get("bias_weight_decay")
    bias_wd = wd if bias_wd is None else bias_wd
    if isinstance(module, DBDModel):  # networks say which parameters are "backbone"
        backbone_ids = {id(p) for p in module.param_groups().get("backbone", [])}
    else:
        backbone = getattr(module, "backbone", None)
        backbone_ids = {id(p) for p in backbone.parameters()} if isinstance(backbone, nn.Module) else set()
    groups: dict[str, dict[str, Any]] = {}
    named = list(module.named_parameters())
    if extra is not None:
        named += [(f"objective.{n}", p) for n, p in extra]
    for name, p in named:
        if not p.requires_grad:
            continue
        part = "backbone" if id(p) in backbone_ids else "head"
        is_bias = (
            name.endswith(".bias")
            if cfg.get("bias_rule", "ndim") == "name"
            else (name.endswith(".bias") or p.ndim <= 1)
        )
        kind = "bias" if is_bias else "weight"
        mult = cfg.get("backbone_lr_mult", 1.0) if part == "backbone" else 1.0
        if kind == "bias":
            mult *= cfg.get("bias_lr_mult", 1.0)
        key = f"{part}_{kind}"
        group = groups.setdefault(
            key,
            {"name": key, "params": [], "lr": lr * mult, "weight_decay": bias_wd if kind == "bias" else wd},
        )
        group["params"].append(p)
    return list(groups.values())


def build_optimizer(
    module: nn.Module, cfg: dict[str, Any], extra: list[tuple[str, nn.Parameter]] | None = None
) -> torch.optim.Optimizer:
    """SGD / Adam / AdamW from an ``optim`` config group."""
    groups = param_groups(module, cfg, extra)
    if not groups:
        raise ValueError(f"{type(module).__name__} has no trainable parameters to optimise")
    name = cfg["name"]
    if name == "sgd":
        return torch.optim.SGD(
            groups, lr=cfg["lr"], momentum=cfg.get("momentum", 0.0), nesterov=cfg.get("nesterov", False)
        )
    if name in {"adam", "adamw"}:
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(groups, lr=cfg["lr"], betas=tuple(cfg.get("betas", (0.9, 0.999))))
    raise ValueError(f"optim.name={name!r}; expected sgd, adam or adamw")


def lr_factor_fn(cfg: dict[str, Any], max_steps: int, steps_per_epoch: int) -> Callable[[int], float]:
    """The multiplicative LR factor at optimiser step ``t`` (linear warm-up, then the schedule)."""
    name, warmup = cfg["name"], int(cfg.get("warmup_steps", 0))

    def schedule(t: int) -> float:
        if name == "constant":
            return 1.0
        if name == "poly":
            return max(0.0, 1.0 - t / max_steps) ** cfg.get("power", 0.9)
        if name == "cosine":
            floor = cfg.get("min_lr_ratio", 0.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, max_steps) / max_steps))
        if name == "step":
            unit = cfg.get("unit", "step")
            if unit not in {"step", "epoch"}:
                raise ValueError(f"sched.unit={unit!r}; expected step or epoch")
            t_unit = t // max(1, steps_per_epoch) if unit == "epoch" else t
            return cfg.get("gamma", 0.1) ** (t_unit // cfg["step_size"])
        raise ValueError(f"sched.name={name!r}; expected poly, step, cosine or constant")

    schedule(0)  # validate the config before training starts

    def factor(t: int) -> float:
        if warmup and t < warmup:
            return (t + 1) / warmup * schedule(t)
        return schedule(t)

    return factor


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: dict[str, Any], max_steps: int, steps_per_epoch: int
):
    """A ``LambdaLR`` stepped once per optimiser step; its state holds only the step count."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor_fn(cfg, max_steps, steps_per_epoch))
