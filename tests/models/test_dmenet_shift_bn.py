"""DMENet's β-only BatchNorm: a written-out reference, an explicit γ = 1 (CUDA), the objective's backward.

On CUDA, ``F.batch_norm`` with ``weight=None`` and a bias failed in backward ("tensor does not have a
device"). The layer now passes γ = 1 explicitly; these CPU tests pin what it computes and what it passes.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import dbdzoo.models.dmenet  # noqa: F401  (registers dmenet)
from dbdzoo import create_model
from dbdzoo.losses import build_objective
from dbdzoo.models.dmenet_parts import ShiftBatchNorm2d

EPS = 1e-5


def _layer(momentum: float | None = 0.1) -> ShiftBatchNorm2d:
    bn = ShiftBatchNorm2d(3, eps=EPS, momentum=momentum)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():  # non-trivial β and running statistics
        bn.bias.copy_(torch.randn(3, generator=g))
        bn.running_mean.copy_(torch.randn(3, generator=g))
        bn.running_var.copy_(torch.rand(3, generator=g) + 0.5)
    return bn


def _input() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    return torch.randn(4, 3, 5, 6, generator=g) * 2 + 1, torch.randn(4, 3, 5, 6, generator=g)


def _reference(x: torch.Tensor, bias: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """(x − mean) / √(var + ε) + β per channel, in float64."""
    shape = (1, -1, 1, 1)
    return (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + EPS) + bias.reshape(shape)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_train_mode_matches_the_reference(momentum: float | None) -> None:
    bn = _layer(momentum).train()
    x, upstream = _input()
    ref_x, ref_bias = x.double().requires_grad_(), bn.bias.detach().double().requires_grad_()
    old_mean, old_var = bn.running_mean.double(), bn.running_var.double()
    x.requires_grad_()

    out = bn(x)
    (out * upstream).sum().backward()
    batch_mean = ref_x.mean((0, 2, 3))
    batch_var = ref_x.var((0, 2, 3), unbiased=False)
    expected = _reference(ref_x, ref_bias, batch_mean, batch_var)
    (expected * upstream.double()).sum().backward()

    torch.testing.assert_close(out, expected.float(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad, ref_x.grad.float(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bn.bias.grad, ref_bias.grad.float(), rtol=1e-5, atol=1e-5)
    factor = 1.0 if momentum is None else momentum  # cumulative average: 1/1 after the first batch
    n = x.numel() / x.shape[1]
    unbiased = batch_var.detach() * n / (n - 1)
    torch.testing.assert_close(
        bn.running_mean, ((1 - factor) * old_mean + factor * batch_mean.detach()).float()
    )
    torch.testing.assert_close(bn.running_var, ((1 - factor) * old_var + factor * unbiased).float())
    assert int(bn.num_batches_tracked) == 1


def test_eval_mode_uses_the_running_statistics_and_leaves_them() -> None:
    bn = _layer().eval()
    x, upstream = _input()
    before = (bn.running_mean.clone(), bn.running_var.clone())
    ref_x, ref_bias = x.double().requires_grad_(), bn.bias.detach().double().requires_grad_()
    x.requires_grad_()

    out = bn(x)
    (out * upstream).sum().backward()
    expected = _reference(ref_x, ref_bias, before[0].double(), before[1].double())
    (expected * upstream.double()).sum().backward()

    torch.testing.assert_close(out, expected.float(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x.grad, ref_x.grad.float(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bn.bias.grad, ref_bias.grad.float(), rtol=1e-5, atol=1e-5)
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])
    assert int(bn.num_batches_tracked) == 0


@pytest.mark.parametrize("training", [True, False])
def test_outputs_and_gradients_equal_the_weightless_call_exactly(training: bool) -> None:
    """γ = 1 times is exact: checkpoints and released DMENet weights give the same numbers as before."""
    bn = _layer().train(training)
    x, upstream = _input()
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    bias2 = bn.bias.detach().clone().requires_grad_()
    mean2, var2 = bn.running_mean.clone(), bn.running_var.clone()

    out = bn(x1)
    (out * upstream).sum().backward()
    old = F.batch_norm(x2, mean2, var2, None, bias2, training, 0.1, EPS)  # the layer before the fix
    (old * upstream).sum().backward()

    torch.testing.assert_close(out, old, rtol=0, atol=0)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=0, atol=0)
    torch.testing.assert_close(bn.bias.grad, bias2.grad, rtol=0, atol=0)
    torch.testing.assert_close(bn.running_mean, mean2, rtol=0, atol=0)
    torch.testing.assert_close(bn.running_var, var2, rtol=0, atol=0)


def test_batch_norm_gets_a_ones_weight_of_the_bias_dtype_and_no_new_state(monkeypatch) -> None:
    """What CUDA needs, checked on the CPU: a defined γ = 1 that follows β through ``.double()``."""
    seen: list[torch.Tensor | None] = []
    real = F.batch_norm

    def spy(input, running_mean, running_var, weight=None, bias=None, *args, **kwargs):  # noqa: ANN001, ANN202
        seen.append(weight)
        return real(input, running_mean, running_var, weight, bias, *args, **kwargs)

    monkeypatch.setattr(F, "batch_norm", spy)
    bn = _layer().double()
    bn(_input()[0].double())
    assert len(seen) == 1 and seen[0] is not None
    assert seen[0].dtype == torch.float64 and torch.equal(seen[0], torch.ones(3, dtype=torch.float64))
    assert bn.weight is None and not bn.affine  # still "no γ" for the converter and SyncBN
    assert set(bn.state_dict()) == {"bias", "running_mean", "running_var", "num_batches_tracked"}
    assert [n for n, _ in bn.named_parameters()] == ["bias"]


def test_dmenet_objective_backward_under_anomaly_detection() -> None:
    """The step that failed on the H200: model + calibration net + discriminator, β-only BN everywhere."""
    torch.manual_seed(0)
    model = create_model("dmenet", backbone="tiny_vgg")
    objective = build_objective(
        {
            "name": "dmenet_bdcs",
            "perceptual_backbone": "tiny_vgg",
            "perceptual_pretrained": False,
            "disc_widths": (8, 16, 16, 32),
        },
        model,
    )
    g = torch.Generator().manual_seed(1)
    image = lambda: torch.rand(2, 3, 32, 32, generator=g)  # noqa: E731
    mask = (torch.rand(2, 1, 32, 32, generator=g) > 0.5).float()
    batch = {
        "syn": {"image": image(), "defocus": 2.0 * mask, "defocus_valid": torch.ones_like(mask)},
        "real": {"image": image(), "mask": mask},
        "unlabelled": {"image": image()},
    }
    shift_bns = [m for m in (*model.modules(), *objective.modules()) if isinstance(m, ShiftBatchNorm2d)]
    assert any(isinstance(m, ShiftBatchNorm2d) for m in objective.calibration.modules())
    with torch.autograd.set_detect_anomaly(True):
        result = objective(model, batch)
        objective.adversary_loss().backward()  # D first (the faithful order), then G
        (result["loss"] + objective.generator_adversary_loss()).backward()
    assert torch.isfinite(result["loss"])
    for bn in shift_bns:
        assert bn.bias.grad is not None and torch.isfinite(bn.bias.grad).all()
        assert int(bn.num_batches_tracked) >= 1
    calibration_grads = [p.grad for p in objective.calibration.parameters()]
    assert all(grad is not None and grad.abs().sum() > 0 for grad in calibration_grads)
