"""Optimiser parameter groups and LR schedules."""

from __future__ import annotations

import math

import pytest
import torch

import dbdzoo
from dbdzoo.engine.optim import build_optimizer, build_scheduler, lr_factor_fn


def test_bias_and_backbone_groups_get_their_own_lr_and_decay() -> None:
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    cfg = {
        "name": "sgd",
        "lr": 1e-3,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "bias_lr_mult": 2.0,
        "bias_weight_decay": 0.0,
        "backbone_lr_mult": 0.1,
    }
    opt = build_optimizer(model, cfg)
    groups = {g["name"]: g for g in opt.param_groups}
    assert (
        groups["head_weight"]["lr"] == pytest.approx(1e-3) and groups["head_weight"]["weight_decay"] == 5e-4
    )
    assert groups["head_bias"]["lr"] == pytest.approx(2e-3) and groups["head_bias"]["weight_decay"] == 0.0
    assert groups["backbone_weight"]["lr"] == pytest.approx(1e-4)
    assert groups["backbone_bias"]["lr"] == pytest.approx(2e-4)
    n_params = sum(len(g["params"]) for g in opt.param_groups)
    assert n_params == len([p for p in model.parameters() if p.requires_grad])
    assert all(p.ndim == 1 for p in groups["head_bias"]["params"])


def test_unknown_optimiser_is_rejected() -> None:
    with pytest.raises(ValueError, match="optim.name='lion'; expected sgd, adam or adamw"):
        build_optimizer(torch.nn.Linear(2, 2), {"name": "lion", "lr": 1.0})


def test_schedules() -> None:
    poly = lr_factor_fn({"name": "poly", "power": 0.9}, max_steps=100, steps_per_epoch=10)
    assert poly(0) == 1.0 and poly(50) == pytest.approx(0.5**0.9) and poly(100) == 0.0
    step = lr_factor_fn(
        {"name": "step", "step_size": 20, "gamma": 0.8, "unit": "epoch"}, 10_000, steps_per_epoch=5
    )
    assert step(99) == 1.0 and step(100) == pytest.approx(0.8) and step(205) == pytest.approx(0.64)
    cos = lr_factor_fn({"name": "cosine", "min_lr_ratio": 0.1}, 100, 1)
    assert cos(0) == pytest.approx(1.0) and cos(50) == pytest.approx(0.55) and cos(100) == pytest.approx(0.1)
    warm = lr_factor_fn({"name": "constant", "warmup_steps": 4}, 100, 1)
    assert [warm(t) for t in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    with pytest.raises(ValueError, match="sched.name='exp'"):
        lr_factor_fn({"name": "exp"}, 10, 1)


def test_scheduler_state_reloads_under_weights_only(tmp_path) -> None:
    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=1.0)
    sched = build_scheduler(opt, {"name": "poly", "power": 1.0}, max_steps=10, steps_per_epoch=1)
    for _ in range(3):
        opt.step()
        sched.step()
    torch.save(sched.state_dict(), tmp_path / "s.pt")
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    opt2 = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=1.0)
    sched2 = build_scheduler(opt2, {"name": "poly", "power": 1.0}, max_steps=10, steps_per_epoch=1)
    sched2.load_state_dict(state)
    assert math.isclose(sched2.get_last_lr()[0], 0.7)


def test_name_bias_rule_keeps_norm_scales_with_the_weights() -> None:
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8)  # decoder has BatchNorm
    cfg = {"name": "sgd", "lr": 1e-3, "weight_decay": 5e-4, "bias_lr_mult": 2.0, "bias_weight_decay": 0.0}
    by_ndim = {g["name"]: len(g["params"]) for g in build_optimizer(model, cfg).param_groups}
    by_name = {
        g["name"]: len(g["params"]) for g in build_optimizer(model, {**cfg, "bias_rule": "name"}).param_groups
    }
    n_bn_weights = sum(1 for n, p in model.named_parameters() if n.endswith(".weight") and p.ndim == 1)
    assert n_bn_weights > 0
    assert by_name["head_weight"] == by_ndim["head_weight"] + n_bn_weights
    assert by_name["head_bias"] == by_ndim["head_bias"] - n_bn_weights
