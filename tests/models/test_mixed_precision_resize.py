"""bf16 training upsamples in fp32 (no 16-bit atomic backward on CUDA) without changing any value.

Issue 20: the FPNs trained slower in bf16 + channels_last than in fp32 on an H200. The suspects that
CPU runs can pin down are which kernels and casts a step dispatches; these tests count them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import dbdzoo
from dbdzoo.bench.dispatch import OpTally
from dbdzoo.losses import build_objective, default_objective
from dbdzoo.models.blocks import resize_to


def _bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def test_fp32_resize_is_plain_interpolate() -> None:
    x = torch.randn(2, 4, 7, 9, requires_grad=True)
    for size in ((28, 36), (3, 4)):
        torch.testing.assert_close(resize_to(x, size), _bilinear(x, size), rtol=0, atol=0)
        assert resize_to(x, size, float_output=True).dtype == torch.float32
    assert resize_to(x, (7, 9)) is x


def test_bf16_upsampling_with_grad_runs_in_fp32_with_identical_values() -> None:
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 8, 7, 7).bfloat16().contiguous(memory_format=layout).requires_grad_()
        with OpTally() as tally:
            out = resize_to(x, (56, 56))
            (grad,) = torch.autograd.grad(out, x, torch.ones_like(out))
        assert out.dtype == torch.bfloat16 and grad.dtype == torch.bfloat16
        assert tally.ops["upsample_bilinear2d_backward.fp32"] == 1
        assert tally.ops["upsample_bilinear2d_backward.bf16"] == 0
        ref = _bilinear(x, (56, 56))  # the 16-bit kernel computes in fp32 and rounds once: same values
        torch.testing.assert_close(out, ref, rtol=0, atol=0)
        torch.testing.assert_close(grad, torch.autograd.grad(ref, x, torch.ones_like(ref))[0], rtol=0, atol=0)


def test_bf16_inference_and_downsampling_keep_the_plain_kernel() -> None:
    x = torch.randn(2, 8, 16, 16).bfloat16()
    with OpTally() as tally, torch.no_grad():
        resize_to(x, (64, 64))  # inference: no backward to protect
        resize_to(x.requires_grad_(), (4, 4))  # downsampling: no contention in its backward
    assert tally.ops["upsample_bilinear2d.bf16"] == 2 and not tally.casts
    assert resize_to(x, (64, 64), float_output=True).dtype == torch.float32


def _bf16_step(name: str = "fpn_resnet10t") -> tuple[OpTally, dict, torch.nn.Module]:
    """One bf16 + channels_last step of the released network (taps at strides 4–32, as on the GPU)."""
    torch.manual_seed(0)
    model = dbdzoo.create_model(name).train()
    model.to(memory_format=torch.channels_last)
    objective = build_objective(default_objective(name), model)
    batch = {"image": torch.rand(2, 3, 64, 64).contiguous(memory_format=torch.channels_last),
             "mask": (torch.rand(2, 1, 64, 64) > 0.5).float()}  # fmt: skip
    with OpTally() as tally, torch.autocast("cpu", dtype=torch.bfloat16):
        result = objective(model, batch)
    with tally:
        result["loss"].backward()
    return tally, batch, model


def test_fpn_bf16_step_has_no_16_bit_upsampling_backward_and_no_full_resolution_casts() -> None:
    tally, batch, model = _bf16_step()
    assert tally.ops["upsample_bilinear2d_backward.fp32"] == 11  # main logit, 4 side outputs, 6 decoder
    assert tally.ops["upsample_bilinear2d_backward.bf16"] == 0
    assert tally.cast_shapes[(2, 1, 64, 64)] == 0  # no 16-bit round trip of full-resolution logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch["image"])
    assert out.logits.dtype == torch.float32  # upsampled straight into the fp32 loss


def test_deep_supervision_upsamples_side_logits_in_fp32_before_the_loss() -> None:
    torch.manual_seed(0)
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    objective = build_objective(default_objective("fpn"), model)
    batch = {"image": torch.rand(2, 3, 32, 32), "mask": (torch.rand(2, 1, 32, 32) > 0.5).float()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch["image"])
        loss = objective.criterion(out, batch)["loss"]
    expected = F.binary_cross_entropy_with_logits(out.logits.float(), batch["mask"])
    for side in out.aux:
        assert side.dtype == torch.bfloat16
        up = _bilinear(side.float(), (32, 32))
        expected = expected + F.binary_cross_entropy_with_logits(up, batch["mask"])
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-6)


def test_full_resolution_logits_leave_in_fp32_under_bf16() -> None:
    """BR2Net's ten sides, DeFusionNet's per-level maps and BTBCRL's logit head for the fp32 loss."""
    from dbdzoo.bench.tiny import tiny_overrides

    for name in ("br2net", "defusionnet", "btbcrl"):
        torch.manual_seed(0)
        model = dbdzoo.create_model(name, **tiny_overrides(name)).train()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(torch.rand(2, 3, 64, 64))
        # DeFusionNet's logit is a 1×1 fusion conv over its maps, BTBCRL's side maps come from convs at
        # full size: bf16 under autocast like any conv, so only the upsampled ones are checked.
        heads = {"br2net": [out.logits, *out.aux], "defusionnet": out.aux, "btbcrl": [out.logits]}[name]
        full = [t for t in heads if t.shape[-2:] == (64, 64)]
        assert full and all(t.dtype == torch.float32 for t in full), name
