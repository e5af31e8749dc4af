"""BTBNet: outputs, parameter count, options, activation checkpointing, compile/export, a short training run."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from model_helpers import (
    assert_compile_and_export_match_eager,
    assert_same_outputs_and_gradients,
    objective_for,
    saved_activation_bytes,
    train_losses,
)
from model_helpers import half_blurred_batch as synthetic_batch

import dbdzoo.models.btbnet  # noqa: F401  (registers btbnet)
from dbdzoo import create_model
from dbdzoo.engine.optim import param_groups as engine_param_groups
from dbdzoo.models.btb_stream import TopBottomStep

TINY = {"backbone": "tiny_vgg", "backbone_kwargs": {"pools": False}}
#: 3 × (14,714,688 VGG16 convs + 7,042,944 top-bottom convs + 65 head) + 38,785 FNet + 76,289 RRNet.
BTBNET_PARAMS = 65_388_165
BTBNET_SHARED_PARAMS = 21_872_771


def tiny_btbnet(seed: int = 0, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model("btbnet", **{**TINY, **kw})


@pytest.fixture(scope="module")
def vgg_btbnet() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("btbnet")  # the default configuration, random weights, never downloads


def test_tiny_forward_backward_and_side_outputs():
    model = tiny_btbnet()
    batch = synthetic_batch(n=2, size=32)
    x = F.interpolate(batch["image"], size=(37, 45))  # odd sizes: pool-free streams take any size
    out = model(x)
    assert out.logits.shape == (2, 1, 37, 45)
    assert len(out.aux) == 3 + 1 + 2  # D_1..D_3, D_F, R_1, R_2 (R_3 is the logit)
    assert all(a.shape == (2, 1, 37, 45) for a in out.aux)
    assert model.input_multiple == 1
    result = objective_for(model)(model, {"image": x, "mask": F.interpolate(batch["mask"], size=(37, 45))})
    result["loss"].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_stream_inputs_are_rounded_scales():
    model = tiny_btbnet(scales=[1.0, 0.7, 0.55])
    sizes = [tuple(t.shape[-2:]) for t in model.scaled_inputs(torch.rand(1, 3, 33, 50))]
    assert sizes == [(33, 50), (23, 35), (18, 28)]  # round(23.1), round(35.0); round(18.15), round(27.5…)
    assert len(model.streams) == 3 and model.fnet[0].in_channels == 3


def test_default_vgg16_parameter_count_and_forward_64(vgg_btbnet):
    model = vgg_btbnet
    assert sum(p.numel() for p in model.parameters()) == BTBNET_PARAMS
    assert [s.skip.out_channels for s in model.streams[0].steps] == [512, 256, 128, 64]  # derived td_widths
    groups = model.param_groups()
    assert sum(p.numel() for p in groups["backbone"]) == 3 * 14_714_688
    optim_cfg = {"lr": 1e-3, "weight_decay": 5e-4, "bias_lr_mult": 2.0, "backbone_lr_mult": 0.1}
    lrs = {
        g["name"]: (g["lr"], sum(p.numel() for p in g["params"]))
        for g in engine_param_groups(model, optim_cfg)
    }
    vgg16_biases = 4_224
    assert lrs["backbone_weight"] == (pytest.approx(1e-4), 3 * (14_714_688 - vgg16_biases))
    assert lrs["backbone_bias"][0] == pytest.approx(2e-4) and lrs["head_weight"][0] == pytest.approx(1e-3)
    assert not any(k.startswith("backbone.") for k in model.state_dict())  # the view adds no duplicate keys
    assert model.normalize.preset == "imagenet_rgb" and model.native_positive == "in_focus"
    x = synthetic_batch(n=1, size=64)
    out = model(x["image"])
    assert out.logits.shape == (1, 1, 64, 64) and len(out.aux) == 6
    objective_for(model)(model, x)["loss"].backward()
    assert model.streams[2].backbone.features[0].weight.grad.abs().sum() > 0


def test_shared_streams_parameter_count():
    torch.manual_seed(0)
    model = create_model("btbnet", share_streams=True)
    assert sum(p.numel() for p in model.parameters()) == BTBNET_SHARED_PARAMS
    assert len(model.streams) == 1


def test_top_bottom_step_is_relu_conv_sum():
    torch.manual_seed(0)
    step = TopBottomStep(4, 3, 5)
    top, skip = torch.randn(1, 4, 6, 6), torch.randn(1, 3, 6, 6)
    expected = F.relu(F.conv2d(top, step.top.weight, step.top.bias, padding=1)) + F.relu(
        F.conv2d(skip, step.skip.weight, step.skip.bias, padding=1)
    )
    torch.testing.assert_close(step(top, skip), expected)


def test_refinement_options():
    no_rr = tiny_btbnet(rr_iters=0)
    out = no_rr(torch.rand(1, 3, 24, 24))
    assert len(out.aux) == 3  # only the stream maps; the logit is D_F
    assert no_rr.output_roles() == ("fnet", ["streams"] * 3)
    assert tiny_btbnet(rr_image_input=False).rrnet.body[0].in_channels == 1
    assert tiny_btbnet().rrnet.body[0].in_channels == 4
    dilated = tiny_btbnet(dilate_after_removed_pools=True)
    first_convs = [dilated.streams[0].backbone.features[i] for i in (0, 5, 10, 15, 20)]
    assert [conv.dilation[0] for conv in first_convs] == [1, 2, 4, 8, 16]
    assert tiny_btbnet(td_steps=2, td_widths=[16, 8]).streams[0].head.in_channels == 8


def test_stage_freezes_and_masks_the_objective():
    model = tiny_btbnet()
    assert all(p.requires_grad for p in model.parameters())  # the network itself trains everything
    objective = objective_for(model, stage="fnet", kind="mse")  # the objective picks the stage
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"fnet"}
    assert objective.kind == "mse"
    assert objective.main_weight == 0.0 and objective.aux_weights == [0, 0, 0, 1, 0, 0]
    joint = objective_for(tiny_btbnet(), aux_weights=0.5)
    assert joint.main_weight == 1.0 and joint.aux_weights == [0.5] * 6


@pytest.mark.parametrize("bad", [{"td_steps": 5}, {"scales": []}])
def test_invalid_options_raise(bad):
    with pytest.raises(ValueError, match=rf"^{next(iter(bad))}="):
        tiny_btbnet(**bad)


@pytest.mark.parametrize(("bad", "match"), [({"stage": "crl"}, "stage"), ({"kind": "l1"}, "kind")])
def test_invalid_objective_options_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        objective_for(tiny_btbnet(), **bad)


@pytest.mark.parametrize("training_key", ["loss", "stage"])
def test_training_options_are_no_network_arguments(training_key):
    with pytest.raises(TypeError, match=training_key):
        tiny_btbnet(**{training_key: "joint"})


def test_checkpointing_gives_same_outputs_and_gradients():
    plain, ckpt = tiny_btbnet(), tiny_btbnet(checkpoint_streams=True)
    batch = synthetic_batch(n=2, size=32)
    assert_same_outputs_and_gradients(plain, ckpt, batch)
    # Only the streams are recomputed; FNet/RRNet (64 ch at full size, large next to tiny streams) stay stored.
    assert saved_activation_bytes(ckpt, batch["image"]) < 0.6 * saved_activation_bytes(plain, batch["image"])


def test_compile_and_export_match_eager():
    assert_compile_and_export_match_eager(tiny_btbnet().eval(), torch.rand(2, 3, 32, 40))


def test_short_training_run_lowers_the_loss():
    losses = train_losses(tiny_btbnet(), synthetic_batch(n=4, size=32), lr=2e-3)
    assert sum(losses[-5:]) / 5 < 0.8 * losses[0], losses


def test_export_keeps_height_and_width_dynamic():
    """Stream sizes are integer arithmetic on the input shape, so one exported graph serves any size."""
    from torch.export import Dim

    model = tiny_btbnet().eval()
    exported = torch.export.export(
        model, (torch.rand(2, 3, 40, 48),), dynamic_shapes={"x": {0: Dim.AUTO, 2: Dim.AUTO, 3: Dim.AUTO}}
    )
    x = torch.rand(3, 3, 37, 53)
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x).logits, model(x).logits)
