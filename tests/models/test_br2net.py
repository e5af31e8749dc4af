"""BR2Net: official structure, parameter count, streams, loss, compile/export and a short training run."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from model_helpers import assert_compile_and_export_match_eager, objective_for, train_losses
from model_helpers import half_blurred_batch as synthetic_blur_batch
from torch.utils.flop_counter import FlopCounterMode

import dbdzoo.models.br2net  # noqa: F401  (registers br2net)
from dbdzoo import create_model

BR2NET_PARAMS = 50_589_646  # ResNeXt-101 32×4d without fc (42,128,704) + attention and streams (8,460,942)
BR2NET_FLOPS_320 = 97_309_860_864  # convolutions at 320×320 = 48.65 GMACs (FLOPs = 2 × MACs)


def tiny(**kw) -> torch.nn.Module:
    return create_model("br2net", backbone="tiny_resnet", **kw)


def test_tiny_forward_backward_eleven_outputs() -> None:
    model = tiny()
    out = model(torch.rand(2, 3, 64, 64))
    assert out.logits.shape == (2, 1, 64, 64)
    assert len(out.aux) == 10 and all(a.shape == (2, 1, 64, 64) for a in out.aux)
    # fusion = mean of the last low-to-high and the last high-to-low logits
    torch.testing.assert_close(out.logits, (out.aux[4] + out.aux[9]) / 2)
    (out.logits.mean() + sum(a.mean() for a in out.aux)).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_attention_widths_follow_official_calayer() -> None:
    model = tiny()  # tiny_resnet channels 32/32/48/192/96 → hidden C // 16
    assert [a.fc1.out_channels for a in model.attention] == [2, 2, 3, 12, 6]
    with torch.device("meta"):
        real = create_model("br2net")
    assert [a.fc1.out_channels for a in real.attention] == [4, 16, 32, 64, 128]
    assert [s[0].in_channels for s in real.low_to_high[1:]] == [257, 513, 1025, 2049]
    assert [s[0].in_channels for s in real.high_to_low[1:]] == [1025, 513, 257, 65]


def test_streams_compose_residually() -> None:
    """P_k = R_k([P_{k-1}, up(CA_k)]) + P_{k-1}: zeroing R_1's last conv makes P_1 equal P_0."""
    model = tiny().eval()
    for stream in (model.low_to_high, model.high_to_low):
        torch.nn.init.zeros_(stream[1][6].weight)
        torch.nn.init.zeros_(stream[1][6].bias)
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64))
    torch.testing.assert_close(out.aux[1], out.aux[0])
    torch.testing.assert_close(out.aux[6], out.aux[5])
    assert not torch.allclose(out.aux[2], out.aux[1])


def test_variants_without_attention_and_with_stride2_layer0() -> None:
    plain = tiny(channel_attention=False)
    assert not any(n.startswith("attention.") for n, _ in plain.named_parameters())
    stem = tiny(layer0_tap="stem")
    assert stem.backbone.strides[0] == 2
    assert stem(torch.rand(1, 3, 64, 64)).logits.shape == (1, 1, 64, 64)
    with pytest.raises(ValueError, match="layer0_tap"):
        tiny(layer0_tap="pool")


@pytest.mark.slow
def test_default_parameter_count_and_real_backbone_at_64() -> None:
    with torch.device("meta"):
        model = create_model("br2net")
    assert sum(p.numel() for p in model.parameters()) == BR2NET_PARAMS
    assert model.backbone.strides == (4, 4, 8, 16, 32) and model.normalize.preset == "imagenet_rgb"
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(torch.empty(1, 3, 320, 320, device="meta"))
    assert counter.get_total_flops() == BR2NET_FLOPS_320
    real = create_model("br2net")
    out = real(torch.rand(1, 3, 64, 64))
    assert out.logits.shape == (1, 1, 64, 64) and len(out.aux) == 10
    out.logits.mean().backward()
    grad = real.low_to_high[4][0].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_bce_on_eleven_outputs_by_hand() -> None:
    """Constant logits: each of the 11 BCE terms is softplus(-l)·p + softplus(l)·(1-p)."""
    model = tiny()
    objective = objective_for(model, kind="bce")
    b = {"image": torch.zeros(2, 3, 32, 32), "mask": torch.zeros(2, 1, 32, 32)}
    b["mask"][:, :, :, :16] = 1

    def fake_model(_x):
        from dbdzoo.models import ModelOutput

        return ModelOutput(torch.full((2, 1, 32, 32), 0.5), [torch.full((2, 1, 32, 32), -1.0)] * 10, {})

    result = objective(fake_model, b)
    main = 0.5 * F.softplus(torch.tensor(-0.5)) + 0.5 * F.softplus(torch.tensor(0.5))
    side = 0.5 * F.softplus(torch.tensor(1.0)) + 0.5 * F.softplus(torch.tensor(-1.0))
    torch.testing.assert_close(result["loss"], main + 10 * side)


def test_compile_and_export_match_eager() -> None:
    assert_compile_and_export_match_eager(tiny(refine_width=16).eval(), torch.rand(1, 3, 64, 64))


def test_short_training_run_lowers_the_loss() -> None:
    losses = train_losses(tiny(refine_width=16), synthetic_blur_batch(n=4, size=32), lr=3e-3)
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    assert losses[-1] < 0.6 * losses[0]


def test_any_input_size_works_like_the_official_code():
    """The recipe trains on 300² crops and infers at native sizes; no stride multiple is required."""
    model = tiny().eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 45, 37))
    assert out.logits.shape == (1, 1, 45, 37) and all(a.shape[-2:] == (45, 37) for a in out.aux)
