"""CENet: structure, the pool4-bug flag, parameter/MAC figures of the card, the cross-ensemble loss, export."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from model_helpers import assert_compile_and_export_match_eager, train_losses
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

import dbdzoo
import dbdzoo.models.cenet  # noqa: F401  (registers cenet)
from dbdzoo.losses import build_objective
from dbdzoo.losses.cenet import CrossEnsembleLoss, cross_ensemble_loss
from dbdzoo.models.cenet import CENet

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "model" / "cenet.yaml"
OBJECTIVE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "objective" / "cenet.yaml"
CARD_PARAMS = 37_623_490  # docs/models/cenet.md, vgg16 with the pool4 bug fixed (spec: 37.62M)
CARD_GMACS_320 = 56.41


def synthetic_batch(n: int = 4, size: int = 32, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random textures with one half Gaussian-blurred; mask = blurred half (blur = 1)."""
    g = torch.Generator().manual_seed(seed)
    sharp = torch.rand(n, 3, size, size, generator=g)
    k = torch.exp(-0.5 * (torch.arange(-4, 5, dtype=torch.float32) / 2.0) ** 2)
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    blurred = F.conv2d(F.pad(sharp, (4, 4, 0, 0), mode="reflect"), k, groups=3)
    blurred = F.conv2d(F.pad(blurred, (0, 0, 4, 4), mode="reflect"), k.transpose(2, 3), groups=3)
    mask = torch.zeros(n, 1, size, size)
    for i in range(n):
        if i % 2:
            mask[i, :, :, : size // 2] = 1
        else:
            mask[i, :, size // 2 :, :] = 1
    return {"image": mask * blurred + (1 - mask) * sharp, "mask": mask}


def grad_size(p: torch.nn.Parameter) -> float:
    return 0.0 if p.grad is None else p.grad.abs().sum().item()


def tiny(**kw) -> torch.nn.Module:
    return dbdzoo.create_model("cenet", backbone="tiny_vgg", **{"detectors_per_group": 8, **kw})


def test_tiny_forward_backward_detectors_and_logit_of_their_mean() -> None:
    model = dbdzoo.create_model("cenet", backbone="tiny_vgg")  # default 64 detectors per group
    out = model(torch.rand(2, 3, 32, 48))
    det = out.extras["detectors"]
    assert out.logits.shape == (2, 1, 32, 48) and out.aux == []
    assert det.shape == (2, 128, 32, 48) and det.min() > 0 and det.max() < 1
    torch.testing.assert_close(torch.sigmoid(out.logits), det.mean(1, keepdim=True))
    cross_ensemble_loss(det, torch.ones(2, 1, 32, 48))["loss"].backward()
    assert all(not p.requires_grad and p.grad is None for p in model.fenet.parameters())
    trainable = [p for m in (model.branches, model.heads) for p in m.parameters()]
    assert trainable and all(p.grad is not None for p in trainable)
    with pytest.raises(ValueError, match="divisible by 16"):
        model(torch.rand(1, 3, 40, 40))


def test_real_vgg16_at_64px_forward_backward() -> None:
    model = dbdzoo.create_model("cenet")  # random init, no download
    out = model(torch.rand(1, 3, 64, 64))
    assert out.extras["detectors"].shape == (1, 128, 64, 64)
    out.logits.mean().backward()
    assert model.branches[1]["conv4"][1].weight.grad is not None and model.fenet[0][0].weight.grad is None


def test_default_parameter_count_and_macs_match_card() -> None:
    with torch.device("meta"):
        model = dbdzoo.create_model("cenet")
        x = torch.empty(1, 3, 320, 320)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model) == CARD_PARAMS
    assert count(model.fenet) == 260_160 and count(model.branches[0]) == 14_454_528
    assert count(model.heads[0]) == (512 * 64 + 64) + 64 * 64 * 32 * 32 + 1  # 1×1, bias-free deconv, scalar
    assert round(counter.get_total_flops() / 2e9, 2) == CARD_GMACS_320
    with torch.device("meta"):
        buggy = dbdzoo.create_model("cenet", faithful_pool4_bug=True)
    assert (
        sum(p.numel() for p in buggy.parameters() if p.requires_grad) == 29_988_226
    )  # card: trainable with bug


def test_pool4_bug_flag_moves_branch_2_gradients_into_branch_1() -> None:
    x, y = torch.rand(1, 3, 32, 32), torch.ones(1, 1, 32, 32)
    for bug in (False, True):
        model = tiny(faithful_pool4_bug=bug)
        det = model(x).extras["detectors"]
        second_group_only = ((det[:, 8:] - y) ** 2).mean()  # a loss that only sees branch 2's detectors
        second_group_only.backward()
        conv4_first = grad_size(model.branches[0]["conv4"][1].weight)
        conv4_second = grad_size(model.branches[1]["conv4"][1].weight)
        if bug:  # lab code: branch 2's pool4 reads branch 1's conv4_3, branch 2's conv3/conv4 are dead
            assert conv4_second == 0 and conv4_first > 0
            assert not any(p.requires_grad for p in model.branches[1]["conv3"].parameters())
        else:
            assert conv4_first == 0 and conv4_second > 0


def test_loss_on_a_hand_checked_example() -> None:
    # One pixel, repeated twice along W (means are over pixels, not sums). Group 1 = (0.8, 0.6), mean 0.7;
    # group 2 = (0.4, 0.2), mean 0.3; target 1.
    g = torch.tensor([0.8, 0.6, 0.4, 0.2]).view(1, 4, 1, 1).repeat(1, 1, 1, 2).requires_grad_()
    y = torch.ones(1, 1, 1, 2)
    r = cross_ensemble_loss(g, y, lambda_cross=0.01, lambda_self=0.1)
    # L_1 = [.02 − .01·.25 − .1·.01] + [.08 − .01·.09 − .1·.01] = .0165 + .0781
    # L_2 = [.18 − .01·.09 − .1·.01] + [.32 − .01·.25 − .1·.01] = .1781 + .3165
    torch.testing.assert_close(r["loss_1"], torch.tensor(0.0946))
    torch.testing.assert_close(r["loss_2"], torch.tensor(0.4946))
    torch.testing.assert_close(r["loss"].detach(), torch.tensor(0.5892))
    torch.testing.assert_close(r["loss_error"], torch.tensor(0.04 + 0.16 + 0.36 + 0.64))
    torch.testing.assert_close(r["loss_cross"], torch.tensor(0.25 + 0.09 + 0.09 + 0.25))
    torch.testing.assert_close(r["loss_self"], torch.tensor(4 * 0.01))
    # Both diversity terms are subtracted: the loss is the error term minus the weighted distances.
    torch.testing.assert_close(
        r["loss"].detach(), 0.5 * r["loss_error"] - 0.01 * r["loss_cross"] - 0.1 * r["loss_self"]
    )
    assert cross_ensemble_loss(g, y, 0.0, 0.0)["loss"] > r["loss"]
    r["loss"].backward()
    # d/dG^1_1 with detached means, per pixel (÷2 pixels): (G−Y) − 2λc(G−M_2) − 2λs(G−M_1) = −.2 − .01 − .02.
    # Without the stop-gradient, L_2's cross term would add λc·Σ_i(G^2_i − M_1) = −.008 through M_1.
    torch.testing.assert_close(g.grad[0, 0], torch.full((1, 2), -0.23 / 2))


def test_objective_runs_on_model_output_and_validates_update() -> None:
    cfg = OmegaConf.to_container(OmegaConf.load(OBJECTIVE_CONFIG))
    model = tiny()
    objective = build_objective(cfg, model)
    assert isinstance(objective, CrossEnsembleLoss)
    batch = synthetic_batch(2)
    result = objective(model, batch)
    expected = cross_ensemble_loss(model(batch["image"]).extras["detectors"], batch["mask"])
    torch.testing.assert_close(result["loss"], expected["loss"])
    with pytest.raises(ValueError, match="only 'joint'"):
        CrossEnsembleLoss(update="alternate")


def test_model_config_lists_every_factory_kwarg() -> None:
    cfg = OmegaConf.to_container(OmegaConf.load(CONFIG))
    assert cfg.pop("name") == "cenet" and cfg.pop("pretrained_backbone") is True
    assert set(cfg) | {"pretrained_backbone"} == set(inspect.signature(CENet.__init__).parameters) - {"self"}
    built = dbdzoo.create_model("cenet", **{**cfg, "backbone": "tiny_vgg", "pretrained_backbone": False})
    assert built.state_dict().keys() == dbdzoo.create_model("cenet", backbone="tiny_vgg").state_dict().keys()


def test_frozen_fenet_stays_in_eval_and_options_validate() -> None:
    model = tiny().train()
    assert model.training and not model.fenet.training and model.branches.training
    unfrozen = tiny(freeze_fenet=False).train()
    assert unfrozen.fenet.training and unfrozen.fenet[0][0].weight.requires_grad
    bilinear = tiny(upsample="bilinear")
    assert bilinear(torch.rand(1, 3, 32, 32)).extras["detectors"].shape == (1, 16, 32, 32)
    with pytest.raises(ValueError, match="upsample"):
        tiny(upsample="nearest")
    with pytest.raises(ValueError, match="five pooled blocks"):
        dbdzoo.create_model("cenet", backbone="tiny_resnet")


def test_compile_and_export_match_eager() -> None:
    eager = assert_compile_and_export_match_eager(tiny().eval(), torch.rand(2, 3, 32, 32))
    assert "detectors" in eager.extras


def test_short_synthetic_training_run_lowers_the_loss() -> None:
    losses = train_losses(tiny(), synthetic_batch(4), lr=3e-3)
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses
