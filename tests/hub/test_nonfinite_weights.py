"""NaN/inf weights are refused at load with one line naming the file and the first bad tensor."""

from __future__ import annotations

import pytest
import torch

import dbdzoo.models.fpn  # noqa: F401  (registers fpn)
from dbdzoo import create_model
from dbdzoo.backbones import load_strict
from dbdzoo.backbones.weights import NonFiniteWeightsError
from dbdzoo.hub import CheckpointFormatError, load_model, save_release


def _tiny():
    return create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_load_model_refuses_non_finite_weights(tmp_path, bad) -> None:
    model = _tiny()
    key = next(k for k, v in model.state_dict().items() if v.is_floating_point())
    with torch.no_grad():
        model.state_dict()[key].view(-1)[0] = bad
    path = tmp_path / "diverged.safetensors"
    save_release(model, dict(model.config), path)
    with pytest.raises(CheckpointFormatError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and repr(key) in message
    assert "model config" not in message  # not blamed on a wrong architecture


def test_load_strict_names_the_first_bad_tensor_and_loads_nothing() -> None:
    model = _tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    state = {k: torch.zeros_like(v) for k, v in before.items()}
    keys = [k for k, v in state.items() if v.is_floating_point()]
    state[keys[1]].view(-1)[0] = float("nan")
    state[keys[2]].view(-1)[0] = float("inf")
    with pytest.raises(NonFiniteWeightsError, match=f"w.pt: tensor {keys[1]!r} holds 1 NaN and 0 inf"):
        load_strict(model, state, "w.pt")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)  # refused before anything was copied
    state[keys[1]].zero_()
    state[keys[2]].zero_()
    load_strict(model, state, "w.pt")  # finite weights still load
