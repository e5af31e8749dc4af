"""The input range check costs no host read in a training step, and still refuses 0–255 data where users call.

A host read (``.item()``, ``bool(tensor)``) is a device-to-host sync on a GPU; it is counted here at the
dispatcher (``aten::_local_scalar_dense``), which behaves the same on the CPU.
"""

from __future__ import annotations

import pytest
import torch

import dbdzoo
from dbdzoo.bench.dispatch import OpTally
from dbdzoo.bench.tiny import tiny_overrides
from dbdzoo.losses import build_objective, default_objective

RANGE_ERROR = r"expects RGB in \[0, 1\].*divide 0–255 images by 255"


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8)


def test_a_training_step_reads_nothing_back_from_the_device(model) -> None:
    model.train()
    objective = build_objective(default_objective("fpn"), model)
    batch = {"image": torch.rand(2, 3, 32, 32), "mask": (torch.rand(2, 1, 32, 32) > 0.5).float()}
    with OpTally() as tally:
        objective(model, batch)["loss"].backward()
    assert tally.host_reads == 0, [k for k in tally.ops if k.startswith("_local")]
    assert tally.ops["convolution_backward.fp32"] > 0  # the tally did see the step


def test_eval_mode_reads_the_range_and_refuses_0_255_floats(model) -> None:
    model.eval()
    x = torch.rand(1, 3, 32, 32)
    with OpTally() as tally, torch.no_grad():
        model(x)
    assert tally.host_reads == 1  # one read for the whole check where user data comes in
    with pytest.raises(ValueError, match=RANGE_ERROR):
        model(x * 255)
    with pytest.raises(ValueError, match=RANGE_ERROR):
        model.predict_tensor(x * 255)  # what validation and evaluation call
    with pytest.raises(ValueError, match="looks like 0–255"):
        model.predict(x * 255)


def test_training_mode_without_autograd_still_checks_the_range(model) -> None:
    model.train()
    bad = torch.full((1, 3, 32, 32), 200.0)
    with pytest.raises(ValueError, match=RANGE_ERROR):
        model.predict_tensor(bad)  # inference mode on a model left in training mode
    with torch.no_grad(), pytest.raises(ValueError, match=RANGE_ERROR):
        model(bad)
    with pytest.raises(ValueError, match="needs H and W divisible by 16, got 30×30; pad to 32×32"):
        model(torch.rand(1, 3, 30, 30))  # metadata checks cost nothing and stay in training
    assert model.training


@pytest.mark.parametrize("name", ["br2net", "cenet", "defusionnet", "btbcrl", "dmenet"])
def test_other_networks_train_without_host_reads(name) -> None:
    torch.manual_seed(0)
    net = dbdzoo.create_model(name, **tiny_overrides(name)).train()
    size = 64 if name.startswith("btb") else 32
    with OpTally() as tally:
        out = net(torch.rand(2, 3, size, size))
        (out.logits.float().mean() + sum(a.float().mean() for a in out.aux)).backward()
    assert tally.host_reads == 0, [k for k in tally.ops if k.startswith("_local")]
