"""DeFusionNet (CVPR) and DeFusionNet-TPAMI: shapes, options, parameter/MAC figures of the cards, export."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from model_helpers import assert_compile_and_export_match_eager, train_losses
from model_helpers import half_blurred_batch as synthetic_batch
from omegaconf import OmegaConf
from torch.utils.flop_counter import FlopCounterMode

import dbdzoo
import dbdzoo.models.defusionnet  # noqa: F401  (registers defusionnet, defusionnet_tpami)
from dbdzoo.losses import build_objective
from dbdzoo.models.defusionnet import DeFusionNet

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "model"
# Figures printed in docs/models/defusionnet*.md (vgg16, default options, measured here).
CARD_PARAMS = {"defusionnet": 21_463_501, "defusionnet_tpami": 21_919_741}
CARD_GMACS_320 = {"defusionnet": 118.84, "defusionnet_tpami": 149.03}
VARIANTS = ["defusionnet", "defusionnet_tpami"]


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", VARIANTS)
def test_tiny_forward_backward_and_18_side_outputs(name: str) -> None:
    model = dbdzoo.create_model(name, backbone="tiny_vgg")
    out = model(torch.rand(2, 3, 64, 64))
    assert out.logits.shape == (2, 1, 64, 64)
    assert len(out.aux) == 18 and all(a.shape == (2, 1, 64, 64) for a in out.aux)
    assert model.level_strides == (1, 2, 4, 8, 16, 32)
    (out.logits.mean() + sum(a.mean() for a in out.aux)).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_real_vgg16_at_64px_forward_backward() -> None:
    model = dbdzoo.create_model("defusionnet_tpami")  # superset of the CVPR net; random init, no download
    out = model(torch.rand(1, 3, 64, 64))
    assert out.logits.shape == (1, 1, 64, 64) and len(out.aux) == 18
    assert model.backbone.channels == (64, 128, 256, 512, 512, 512) and model.extra is not None
    out.logits.mean().backward()
    grad = model.backbone.features[0].weight.grad
    assert grad is not None and grad.abs().sum() > 0  # the loss reaches the first layer


@pytest.mark.parametrize("name", VARIANTS)
def test_default_parameter_count_and_macs_match_card(name: str) -> None:
    with torch.device("meta"):  # real VGG16 shapes without allocating or computing anything
        model = dbdzoo.create_model(name)
        x = torch.empty(1, 3, 320, 320)
        assert count(model) == CARD_PARAMS[name]
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(x)
    assert round(counter.get_total_flops() / 2e9, 2) == CARD_GMACS_320[name]  # FLOPs = 2 × MACs


def test_tpami_adds_exactly_fam_and_cam_per_level() -> None:
    with torch.device("meta"):
        cvpr, tpami = dbdzoo.create_model("defusionnet"), dbdzoo.create_model("defusionnet_tpami")
    fam = 2 * (64 * 64 * 9 + 64)  # conv3×3 64 + ReLU → conv3×3 64
    cam = (128 * 8 + 8) + (8 * 128 + 128)  # SE on the 128-ch concat, r = 16
    assert count(tpami) - count(cvpr) == 6 * (fam + cam)


def test_options_change_the_graph_as_documented() -> None:
    x = torch.rand(1, 3, 64, 64)
    five = dbdzoo.create_model("defusionnet", backbone="tiny_vgg", levels=5)
    assert five.extra is None and len(five(x).aux) == 15
    assert five.backbone.taps[-1] == "relu5_2"  # no pool5 requested when the extra level is off
    base = dbdzoo.create_model("defusionnet", backbone="tiny_vgg")
    unshared = dbdzoo.create_model("defusionnet", backbone="tiny_vgg", share_steps=False)
    per_step = count(base.refine) + count(base.fuse_shallow) + count(base.fuse_deep)
    assert count(unshared) - count(base) == 2 * per_step  # steps 2 and 3 get their own weights
    mean = dbdzoo.create_model("defusionnet", backbone="tiny_vgg", fuse="mean", norm="bn").eval()
    out = mean(x)
    torch.testing.assert_close(out.logits, torch.cat(out.aux[-6:], 1).mean(1, keepdim=True))
    resnet = dbdzoo.create_model("defusionnet", backbone="tiny_resnet")  # extra block pools layer4 itself
    assert resnet.level_strides == (4, 4, 8, 16, 32, 64) and resnet(x).logits.shape == (1, 1, 64, 64)
    for bad in ({"fuse": "max"}, {"fam": "x"}, {"cam": "eca"}, {"norm": "gn"}, {"levels": 4}, {"steps": 0}):
        with pytest.raises(ValueError, match=rf"^{next(iter(bad))}="):  # the message names the option
            dbdzoo.create_model("defusionnet", backbone="tiny_vgg", **bad)


def test_conv1x1_fusion_starts_as_the_mean_and_odd_sizes_work() -> None:
    model = dbdzoo.create_model("defusionnet", backbone="tiny_vgg").eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 96, 75))  # BR2Net's recipe feeds 300×300 crops: no padding multiple
    assert out.logits.shape == (1, 1, 96, 75)
    torch.testing.assert_close(out.logits, torch.cat(out.aux[-6:], 1).mean(1, keepdim=True))


def test_objective_is_equal_weight_bce_over_19_maps() -> None:
    cfg = OmegaConf.to_container(OmegaConf.load(CONFIGS.parent / "objective" / "defusionnet.yaml"))
    model = dbdzoo.create_model("defusionnet", backbone="tiny_vgg")
    objective = build_objective(cfg, model)
    batch = synthetic_batch(2)
    result = objective(model, batch)
    with torch.no_grad():
        out = model(batch["image"])
        maps = [out.logits, *out.aux]
        expected = sum(F.binary_cross_entropy_with_logits(m, batch["mask"]) for m in maps)
    torch.testing.assert_close(result["loss"].detach(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", VARIANTS)
def test_model_config_lists_every_factory_kwarg(name: str) -> None:
    cfg = OmegaConf.to_container(OmegaConf.load(CONFIGS / f"{name}.yaml"))
    assert cfg.pop("name") == name and cfg.pop("pretrained_backbone") is True
    assert set(cfg) | {"pretrained_backbone"} == set(inspect.signature(DeFusionNet.__init__).parameters) - {
        "self"
    }
    defaults = dbdzoo.create_model(name, backbone="tiny_vgg")
    built = dbdzoo.create_model(name, **{**cfg, "backbone": "tiny_vgg", "pretrained_backbone": False})
    assert built.state_dict().keys() == defaults.state_dict().keys()


def test_compile_and_export_match_eager() -> None:
    model = dbdzoo.create_model("defusionnet_tpami", backbone="tiny_vgg", side_channels=16).eval()
    assert len(assert_compile_and_export_match_eager(model, torch.rand(2, 3, 32, 32)).aux) == 18


def test_short_synthetic_training_run_lowers_the_loss() -> None:
    model = dbdzoo.create_model("defusionnet", backbone="tiny_vgg", side_channels=16)
    losses = train_losses(model, synthetic_batch(4, size=32), lr=1e-3)
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses
