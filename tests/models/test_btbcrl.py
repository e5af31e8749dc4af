"""BTBCRL: side outputs, CRLNet cascade, loss on resized targets, checkpointing, compile/export, training."""

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

import dbdzoo.models.btbcrl  # noqa: F401  (registers btbcrl)
from dbdzoo import create_model
from dbdzoo.models.blocks import resize_to

TINY = {"backbone": "tiny_vgg", "backbone_kwargs": {"pools": False}}
#: BTBNet's 3 streams (3 × 21,757,697) + 3 × 899 side heads + 2 × 77,377 CRLNet stages.
BTBCRL_PARAMS = 65_430_542
BTBCRL_SHARED_PARAMS = 21_913_350


def tiny_btbcrl(seed: int = 0, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model("btbcrl", **{**TINY, **kw})


def test_tiny_forward_backward_side_outputs_at_stream_sizes():
    model = tiny_btbcrl()
    x = torch.rand(2, 3, 40, 30)
    out = model(x)
    assert out.logits.shape == (2, 1, 40, 30)
    sizes = [(40, 30)] * 4 + [(32, 24)] * 4 + [(24, 18)] * 4 + [(32, 24)]  # S_1..S_3, D per stream; then M_2
    assert [tuple(a.shape[-2:]) for a in out.aux] == sizes
    assert model.output_roles() == ("crl", ["streams"] * 12 + ["crl"])
    mask = (torch.rand(2, 1, 40, 30) > 0.5).float()
    objective_for(model)(model, {"image": x, "mask": mask})["loss"].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_cascade_runs_smallest_to_largest_whatever_the_order():
    model = tiny_btbcrl(scales=[0.6, 1.0, 0.8])
    assert model.cascade_order == (0, 2, 1)
    out = model(torch.rand(1, 3, 20, 20))
    assert out.logits.shape == (1, 1, 20, 20)
    assert out.aux[-1].shape[-2:] == (16, 16)  # M at scale 0.8, before the final stage at 1.0


@pytest.mark.parametrize("space", ["logit", "prob"])
def test_zero_residuals_pass_the_coarsest_map_up(space):
    model = tiny_btbcrl(crl_space=space).eval()
    for block in model.crl:
        torch.nn.init.zeros_(block[-1].weight)
        torch.nn.init.zeros_(block[-1].bias)
    x = torch.rand(1, 3, 30, 30)
    with torch.no_grad():
        out = model(x)
        maps = model.run_streams(model.scaled_inputs(model.normalize(x)))
    coarsest = maps[2][-1]  # D of the 0.6 stream (18×18)
    expected = resize_to(resize_to(coarsest, (24, 24)), (30, 30))
    torch.testing.assert_close(out.aux[-1], resize_to(coarsest, (24, 24)), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.logits, expected, atol=1e-4, rtol=1e-4)


def test_loss_is_bce_on_every_output_with_area_resized_targets():
    model = tiny_btbcrl(scales=[1.0, 0.5])
    x = torch.rand(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :3] = 1.0  # 3 of 8 columns blurred: halving gives soft values 1, 0.5, 0, 0
    out = model(x)
    expected = F.binary_cross_entropy_with_logits(out.logits, mask)
    for side in out.aux:
        target = F.adaptive_avg_pool2d(mask, side.shape[-2:])
        expected = expected + F.binary_cross_entropy_with_logits(side, target)
    result = objective_for(model)(model, {"image": x, "mask": mask})
    torch.testing.assert_close(result["loss"], expected)
    assert torch.equal(F.adaptive_avg_pool2d(mask, (4, 4))[0, 0, 0], torch.tensor([1.0, 0.5, 0.0, 0.0]))


def test_default_vgg16_parameter_count_and_forward_64():
    torch.manual_seed(0)
    model = create_model("btbcrl")
    assert sum(p.numel() for p in model.parameters()) == BTBCRL_PARAMS
    assert model.native_positive == "in_focus" and model.crl[0][0].in_channels == 5
    batch = synthetic_batch(n=1, size=64)
    out = model(batch["image"])
    assert out.logits.shape == (1, 1, 64, 64) and len(out.aux) == 13
    objective_for(model)(model, batch)["loss"].backward()
    assert model.streams[2].backbone.features[0].weight.grad.abs().sum() > 0


def test_shared_streams_parameter_count():
    torch.manual_seed(0)
    model = create_model("btbcrl", share_streams=True)
    assert sum(p.numel() for p in model.parameters()) == BTBCRL_SHARED_PARAMS


def test_options_side_heads_single_stream_image_input_and_stage():
    assert len(tiny_btbcrl(side_heads=False)(torch.rand(1, 3, 16, 16)).aux) == 3 + 1
    single = tiny_btbcrl(scales=[1.0])
    out = single(torch.rand(1, 3, 16, 16))
    assert len(single.crl) == 0 and len(out.aux) == 3  # S_1..S_3; D is the logit
    assert single.output_roles() == ("streams", ["streams"] * 3)
    assert tiny_btbcrl(crl_image_input=False).crl[0][0].in_channels == 2
    staged = tiny_btbcrl()
    objective = objective_for(staged, stage="crl")
    assert {n.split(".")[0] for n, p in staged.named_parameters() if p.requires_grad} == {"crl"}
    assert objective.main_weight == 1.0 and objective.aux_weights == [0.0] * 12 + [1.0]
    assert objective.aux_resize == "target"
    with pytest.raises(ValueError, match=r"^crl_space='sigmoid'; expected 'logit' or 'prob'"):
        tiny_btbcrl(crl_space="sigmoid")
    with pytest.raises(ValueError, match="stage"):
        objective_for(tiny_btbcrl(), stage="rrnet")


def test_checkpointing_gives_same_outputs_and_gradients():
    plain, ckpt = tiny_btbcrl(), tiny_btbcrl(checkpoint_streams=True)
    batch = synthetic_batch(n=2, size=32)
    assert_same_outputs_and_gradients(plain, ckpt, batch)
    assert saved_activation_bytes(ckpt, batch["image"]) < 0.3 * saved_activation_bytes(plain, batch["image"])


def test_compile_and_export_match_eager():
    assert_compile_and_export_match_eager(tiny_btbcrl().eval(), torch.rand(2, 3, 32, 40))


def test_short_training_run_lowers_the_loss():
    losses = train_losses(tiny_btbcrl(), synthetic_batch(n=4, size=32), lr=2e-3)
    assert sum(losses[-5:]) / 5 < 0.8 * losses[0], losses
