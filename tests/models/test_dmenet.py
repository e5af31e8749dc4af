"""DMENet: structure and counts, σ helpers, the BDCS objective by hand, compile/export, a training run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from model_helpers import assert_compile_and_export_match_eager
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import dbdzoo.models.dmenet  # noqa: F401  (registers dmenet)
from dbdzoo import create_model
from dbdzoo.losses import AdversarialObjective, build_objective
from dbdzoo.losses.dmenet import DMENetObjective, tf_nearest_resize
from dbdzoo.metrics.defocus import DMENET_SIGMA_UNITS, dmenet_to_sigma, sigma_to_dmenet
from dbdzoo.models import ModelOutput
from dbdzoo.models.dmenet import SIGMA_UNITS
from dbdzoo.models.dmenet_parts import ShiftBatchNorm2d

DMENET_PARAMS = 26_939_819  # VGG19 convs 20,024,384 + decoder 6,915,435 (β-only BN)
DISCRIMINATOR_PARAMS = 2_827_200  # convs 2,826,240 (no bias) + BN β 960
CALIBRATION_PARAMS = 14_065  # convs 13,729 + BN β 336
DMENET_FLOPS_320 = 259_288_064_000  # convolutions at 320×320 = 129.64 GMACs (FLOPs = 2 × MACs)


def tiny(**kw) -> nn.Module:
    return create_model("dmenet", backbone="tiny_vgg", **kw)


def tiny_objective(model: nn.Module, **kw) -> DMENetObjective:
    kw = {
        "perceptual_backbone": "tiny_vgg",
        "perceptual_pretrained": False,
        "disc_widths": (8, 16, 16, 32),
        **kw,
    }
    return build_objective({"name": "dmenet_bdcs", **kw}, model)


def three_domain_batch(n: int = 2, size: int = 32, seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """Textures blurred on one half: syn σ = 2 px there (0 elsewhere), real mask = that half."""
    g = torch.Generator().manual_seed(seed)

    def half_blurred() -> tuple[torch.Tensor, torch.Tensor]:
        texture = torch.rand(n, 3, size, size, generator=g)
        blurred = F.avg_pool2d(F.pad(texture, (2, 2, 2, 2), mode="reflect"), 5, stride=1)
        cols = torch.arange(size).view(1, 1, 1, size)
        left = torch.rand(n, 1, 1, 1, generator=g) < 0.5
        mask = torch.where(left, cols < size // 2, cols >= size // 2).float().expand(n, 1, size, size)
        return texture * (1 - mask) + blurred * mask, mask.contiguous()

    syn_image, syn_mask = half_blurred()
    real_image, real_mask = half_blurred()
    return {
        "syn": {"image": syn_image, "defocus": 2.0 * syn_mask, "defocus_valid": torch.ones_like(syn_mask)},
        "real": {"image": real_image, "mask": real_mask},
        "unlabelled": {"image": half_blurred()[0]},
    }


def test_tiny_forward_backward_outputs() -> None:
    model = tiny()
    out = model(torch.rand(2, 3, 32, 32))
    assert out.logits.shape == (2, 1, 32, 32)
    assert [a.shape[-1] for a in out.aux] == [2, 4, 8, 16, 32]  # coarse to fine, 1/16 … 1
    assert out.extras["gan_feat"].shape == (2, 8, 32, 32) and model.gan_channels == 8
    (out.logits.mean() + sum(a.mean() for a in out.aux)).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert model.task == "dme"
    torch.testing.assert_close(model.sigma(torch.tensor([0.5])), torch.tensor([3.5]))  # sigma_units=sigma7
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(isinstance(m, ShiftBatchNorm2d) and m.weight is None for m in norms)


def test_parameter_counts_and_real_vgg19_at_64() -> None:
    with torch.device("meta"):
        model = create_model("dmenet")
        scaled = create_model("dmenet", bn_affine_scale=True)
    assert sum(p.numel() for p in model.parameters()) == DMENET_PARAMS
    n_bn = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert sum(p.numel() for p in scaled.parameters()) == DMENET_PARAMS + n_bn
    assert model.backbone.taps == ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(torch.empty(1, 3, 320, 320, device="meta"))
    assert counter.get_total_flops() == DMENET_FLOPS_320
    assert all(
        c.padding_mode == "replicate"
        for c in model.modules()
        if isinstance(c, nn.Conv2d) and c.kernel_size == (3, 3)
    )
    objective = DMENetObjective(perceptual_backbone="tiny_vgg", perceptual_pretrained=False)
    assert sum(p.numel() for p in objective.adversary.parameters()) == DISCRIMINATOR_PARAMS
    assert sum(p.numel() for p in objective.calibration.parameters()) == CALIBRATION_PARAMS
    assert objective.adversary(torch.rand(1, 64, 240, 240)).shape == (1, 1, 8, 8)  # TF 'SAME' padding
    real = create_model("dmenet")
    out = real(torch.rand(1, 3, 64, 64))
    assert out.logits.shape == (1, 1, 64, 64) and out.extras["gan_feat"].shape == (1, 64, 64, 64)
    out.logits.mean().backward()
    assert real.backbone.features[0].weight.grad is not None  # the encoder is trainable


def test_bilinear_upsampling_option() -> None:
    model = tiny(upsample="bilinear")
    assert model(torch.rand(1, 3, 32, 32)).logits.shape == (1, 1, 32, 32)
    with pytest.raises(ValueError, match="upsample"):
        tiny(upsample="bicubic")


def test_sigma_helpers_by_hand() -> None:
    y = torch.tensor([0.0, 1 / 15, 0.5, 1.0])
    torch.testing.assert_close(dmenet_to_sigma(y, "coc15"), torch.tensor([0.0, 0.0, 3.25, 7.0]))
    torch.testing.assert_close(dmenet_to_sigma(y, "sigma7"), torch.tensor([0.0, 7 / 15, 3.5, 7.0]))
    sigma = torch.tensor([0.0, 3.25, 7.0, 9.0])
    torch.testing.assert_close(sigma_to_dmenet(sigma, "coc15"), torch.tensor([1 / 15, 0.5, 1.0, 1.0]))
    torch.testing.assert_close(dmenet_to_sigma(sigma_to_dmenet(sigma[:3], "sigma7"), "sigma7"), sigma[:3])
    with pytest.raises(ValueError, match="units"):
        dmenet_to_sigma(y, "coc28")
    with pytest.raises(ValueError, match="units"):
        sigma_to_dmenet(sigma, "coc28")
    # one codec: the network decodes through it with its own units, whatever the codec's default
    assert set(SIGMA_UNITS) == set(DMENET_SIGMA_UNITS)
    for units in SIGMA_UNITS:
        torch.testing.assert_close(tiny(sigma_units=units).sigma(y), dmenet_to_sigma(y, units))


def test_tf_nearest_resize_samples_first_and_last() -> None:
    x = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 1, 5, 5)
    torch.testing.assert_close(tf_nearest_resize(x, (3, 3))[0, 0, 0], torch.tensor([0.0, 2.0, 4.0]))
    big = torch.arange(240.0).view(1, 1, 1, 240).expand(1, 1, 2, 240)
    cols = tf_nearest_resize(big, (2, 15))[0, 0, 0]
    assert cols[0] == 0 and cols[-1] == 239 and cols[1] == 17  # round(239 / 14) = 17, not 16


class ConstantDiscriminator(nn.Module):
    """Logit c everywhere, with one parameter so freezing and gradients can be checked."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.c + 0 * feat[:, :1, ::32, ::32]


def test_objective_terms_weights_and_reversed_labels_by_hand() -> None:
    model = tiny()
    objective = tiny_objective(model, adversary_first=False)  # G then D: the adversarial term is in forward
    objective._modules["adversary"] = ConstantDiscriminator(2.0)
    nn.init.zeros_(objective.calibration.classifier.weight)
    nn.init.constant_(objective.calibration.classifier.bias, 0.5)  # S logit 0.5 everywhere
    feat = torch.zeros(2, 8, 32, 32, requires_grad=True)

    def fake_model(x: torch.Tensor) -> ModelOutput:  # y = 0.5, aux maps all 0.5
        zero = torch.zeros(x.shape[0], 1, 32, 32, requires_grad=True)
        return ModelOutput(
            zero, [zero[..., :: 32 // s, :: 32 // s] for s in (2, 4, 8, 16, 32)], {"gan_feat": feat}
        )

    batch = three_domain_batch()
    batch["syn"]["defocus"] = torch.full((2, 1, 32, 32), 7.0)  # σ = 7 → target 1 (sigma7)
    batch["syn"]["defocus_valid"][..., :16] = 0  # the left half is unlabelled: zero error there
    result = objective(fake_model, batch)
    torch.testing.assert_close(result["loss_defocus"], torch.tensor(0.125))  # (0.5² on half the pixels)
    torch.testing.assert_close(result["loss_aux"], torch.tensor(5 * 0.125))
    mask = batch["real"]["mask"]
    binary = (mask * F.softplus(torch.tensor(-0.5)) + (1 - mask) * F.softplus(torch.tensor(0.5))).mean()
    torch.testing.assert_close(result["loss_binary"], binary)
    torch.testing.assert_close(result["loss_adv"], F.softplus(torch.tensor(-2.0)))  # real → label 1
    expected = (
        0.125 + 5 * 0.125 + 1e-4 * result["loss_perceptual"] + 2e-2 * binary + 1e-3 * result["loss_adv"]
    )
    torch.testing.assert_close(result["loss"], expected)
    result["loss"].backward()
    assert objective.adversary.c.grad is None  # the generator step leaves D alone
    assert objective.calibration.classifier.bias.grad.abs().sum() > 0  # through loss_binary
    d_loss = objective.adversary_loss()  # syn → 1 (weight 2), real and unlabelled → 0
    expected_d = 1e-3 * 0.5 * (2 * F.softplus(torch.tensor(-2.0)) + 2 * F.softplus(torch.tensor(2.0)))
    torch.testing.assert_close(d_loss, expected_d)
    d_loss.backward()
    sigmoid = torch.sigmoid(torch.tensor(2.0))  # d/dc of expected_d at c = 2: D learns from every domain
    torch.testing.assert_close(objective.adversary.c.grad, 1e-3 * (sigmoid - (1 - sigmoid)))


def test_generator_adversary_loss_uses_the_current_discriminator_once() -> None:
    """The objective's side of the adversarial order: D's loss on this forward's features, then a G term
    computed against whatever D is *now* (the loop's ordering itself runs through the real loop in
    tests/engine/test_dmenet_adversarial_loop.py)."""
    model = tiny()
    objective = tiny_objective(model)  # adversary_first=True is the default (faithful)
    objective._modules["adversary"] = ConstantDiscriminator(2.0)
    result = objective(model, three_domain_batch())
    assert "loss_adv" not in result  # left out until the loop has stepped D
    d_loss = objective.adversary_loss()
    expected_d = 1e-3 * 0.5 * (2 * F.softplus(torch.tensor(-2.0)) + 2 * F.softplus(torch.tensor(2.0)))
    torch.testing.assert_close(d_loss, expected_d)
    with torch.no_grad():
        objective.adversary.c.fill_(-1.0)  # D changed between the two calls
    g_adv = objective.generator_adversary_loss()
    torch.testing.assert_close(g_adv, 1e-3 * F.softplus(torch.tensor(1.0)))  # real → label 1, against new D
    (result["loss"] + g_adv).backward()
    assert objective.adversary.c.grad is None  # the generator step leaves D alone
    with pytest.raises(RuntimeError, match="needs objective"):
        objective.generator_adversary_loss()  # consumed: one G term per forward


def test_objective_structure_domains_and_perceptual_isolation() -> None:
    model = tiny()
    objective = tiny_objective(model)
    assert not any("perceptual" in k for k in objective.state_dict())
    assert not any("perceptual" in k for k in model.state_dict())
    assert {id(p) for p in objective.parameters()}.isdisjoint(
        id(p) for p in objective.perceptual.parameters()
    )
    assert not any(p.requires_grad for p in objective.perceptual.parameters())
    assert [id(p) for p in objective.generator_parameters()] == [
        id(p) for p in objective.calibration.parameters()
    ]
    objective.train()
    assert not objective.perceptual.training
    objective.double()  # .to(device/dtype) must reach the hidden perceptual net too
    assert objective.perceptual.features[0].weight.dtype == torch.float64
    objective.float()
    objective(model, three_domain_batch())
    assert int(model.full_res.norm.num_batches_tracked) == 3  # three per-domain forwards
    with pytest.raises(ValueError, match="data.domains"):
        objective(model, {"image": torch.rand(1, 3, 32, 32)})
    assert isinstance(objective, AdversarialObjective) and objective.adversary_first
    assert objective.ddp_broadcast_buffers is False  # three forwards per step keep per-rank BN buffers
    pretrain = tiny_objective(model, pretrain=True)
    result = pretrain(model, {"syn": three_domain_batch()["syn"]})
    assert set(result) == {"loss", "loss_defocus"}
    assert pretrain.adversary_loss().item() == 0.0
    with pytest.raises(ValueError, match="target_units|units"):
        tiny_objective(model, target_units="coc28")


def test_compile_and_export_match_eager() -> None:
    eager = assert_compile_and_export_match_eager(tiny().eval(), torch.rand(1, 3, 32, 32))
    assert "gan_feat" in eager.extras


def test_short_adversarial_training_run_lowers_the_loss() -> None:
    model = tiny()
    objective = tiny_objective(model)
    batch = three_domain_batch(n=2, size=32)
    gen = torch.optim.Adam([*model.parameters(), *objective.generator_parameters()], lr=3e-3)
    disc = torch.optim.Adam(objective.adversary.parameters(), lr=3e-3)
    losses, totals = [], []
    for _ in range(30):
        result = objective(model, batch)
        gen.zero_grad()
        result["loss"].backward()
        gen.step()
        disc.zero_grad()
        objective.adversary_loss().backward()
        disc.step()
        losses.append(result["loss_defocus"].item() + result["loss_aux"].item())
        totals.append(result["loss"].item())
        assert math.isfinite(totals[-1])
    assert sum(losses[-5:]) / 5 < 0.75 * sum(losses[:5]) / 5  # the supervised terms fall
    assert sum(totals[-5:]) < sum(totals[:5])  # and so does the whole generator loss
