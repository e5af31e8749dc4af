"""Model registry and the model contract (input, output, predict) on the reference ``fpn`` network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dbdzoo
from dbdzoo.losses import build_objective
from dbdzoo.models import ModelOutput, Normalize


@pytest.fixture
def tiny_fpn():
    return dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()


def test_registry_round_trip_and_config_recorded() -> None:
    assert "fpn" in dbdzoo.list_models()
    assert dbdzoo.list_models("fp*") == ["fpn", "fpn_resnet10t", "fpn_resnet18"]
    model = dbdzoo.create_model("fpn", backbone="tiny_resnet", decoder_channels=16)
    assert model.config == {"name": "fpn", "backbone": "tiny_resnet", "decoder_channels": 16}
    rebuilt = dbdzoo.create_model(**model.config)
    assert rebuilt.state_dict().keys() == model.state_dict().keys()


def test_unknown_model_lists_valid_names() -> None:
    with pytest.raises(KeyError, match=r"unknown model 'nope'; valid names: .*fpn"):
        dbdzoo.create_model("nope")


def test_duplicate_registration_warns() -> None:
    from dbdzoo.registry import Registry

    reg: Registry = Registry("thing")
    reg.register("a")(lambda: 1)
    with pytest.warns(UserWarning, match="registered twice"):
        reg.register("a")(lambda: 2)


@pytest.mark.parametrize("backbone", ["tiny_vgg", "tiny_resnet"])
def test_forward_returns_contract_output(backbone: str) -> None:
    model = dbdzoo.create_model("fpn", backbone=backbone, decoder_channels=8)
    out = model(torch.rand(2, 3, 64, 96))
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (2, 1, 64, 96)
    assert len(out.aux) == 5 and all(a.shape[:2] == (2, 1) for a in out.aux)
    (out.logits.mean() + sum(a.mean() for a in out.aux)).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_bad_inputs_raise_value_errors_that_say_what_was_expected(tiny_fpn) -> None:
    with pytest.raises(ValueError, match=r"B×3×H×W tensor, got \(3, 64, 64\)"):
        tiny_fpn(torch.rand(3, 64, 64))
    with pytest.raises(ValueError, match="3 RGB channels.*got 1 channels"):
        tiny_fpn(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r"divisible by 16, got 97×131; pad to 112×144"):
        tiny_fpn(torch.rand(1, 3, 97, 131))
    with pytest.raises(ValueError, match="float tensor"):
        tiny_fpn(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))


def test_predict_odd_sizes_returns_original_size(tiny_fpn) -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (40, 33, 3), dtype=np.uint8)
    single = tiny_fpn.predict(a)
    both = tiny_fpn.predict([a, b])
    assert single.shape == (97, 131) and single.dtype == np.float32
    assert single.min() >= 0.0 and single.max() <= 1.0
    assert [m.shape for m in both] == [(97, 131), (40, 33)]
    np.testing.assert_allclose(both[0], single, atol=1e-6)
    # the crop is exact: predicting the padded image and cropping gives the same map
    x = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    padded = F.pad(x, (0, 144 - 131, 0, 112 - 97), mode="replicate")
    with torch.no_grad():
        ref = torch.sigmoid(tiny_fpn(padded).logits)[0, 0, :97, :131].numpy()
    np.testing.assert_allclose(single, ref, atol=1e-6)
    with pytest.raises(ValueError, match=r"a float image must hold RGB in \[0, 1\].*divide by 255"):
        tiny_fpn.predict(a.astype(np.float32))


def test_predict_runs_in_eval_mode_and_restores_the_mode_it_found() -> None:
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8).train()
    modes: list[bool] = []
    model.register_forward_hook(lambda module, args, out: modes.append(module.training))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    image = (np.random.default_rng(0).random((16, 16, 3)) * 255).astype(np.uint8)
    model.predict(image)
    assert modes and not any(modes)  # BatchNorm used its running statistics
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())  # and updated none
    assert model.training
    model.eval().predict(image)
    assert not model.training


def test_compile_fullgraph_and_export_match_eager(tiny_fpn) -> None:
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        eager = tiny_fpn(x)
        compiled = torch.compile(tiny_fpn, fullgraph=True, backend="eager")(x)
    torch.testing.assert_close(compiled.logits, eager.logits)
    exported = torch.export.export(tiny_fpn, (x,), strict=True)
    out = exported.module()(x)
    torch.testing.assert_close(out.logits, eager.logits)
    assert len(out.aux) == len(eager.aux)


def test_normalisation_presets_live_inside_the_model() -> None:
    x = torch.tensor([0.2, 0.5, 1.0]).view(1, 3, 1, 1)
    caffe = Normalize("caffe_bgr")(x).flatten()
    expected = torch.tensor([255 * 1.0 - 103.939, 255 * 0.5 - 116.779, 255 * 0.2 - 123.68])
    torch.testing.assert_close(caffe, expected)
    imagenet = Normalize("imagenet_rgb")(x).flatten()
    torch.testing.assert_close(
        imagenet, (x.flatten() - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    )
    with pytest.raises(ValueError, match="expected one of imagenet_rgb"):
        Normalize("bgr")
    # the buffers are not part of the weights: checkpoints stay backbone-agnostic
    assert "normalize.mean" not in dbdzoo.create_model("fpn", backbone="tiny_vgg").state_dict()


def test_deep_supervision_objective_sums_bce_over_outputs() -> None:
    model = dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    objective = build_objective(None, model)  # None: the model's paper objective (BCE deep supervision)
    batch = {"image": torch.rand(2, 3, 32, 32), "mask": (torch.rand(2, 1, 32, 32) > 0.5).float()}
    torch.manual_seed(1)
    result = objective(model, batch)
    torch.manual_seed(1)
    out = model(batch["image"])
    expected = F.binary_cross_entropy_with_logits(out.logits, batch["mask"])
    for side in out.aux:
        up = F.interpolate(side, size=(32, 32), mode="bilinear", align_corners=False)
        expected = expected + F.binary_cross_entropy_with_logits(up, batch["mask"])
    torch.testing.assert_close(result["loss"], expected)
    assert result["loss"].requires_grad and not result["loss_main"].requires_grad
    with pytest.raises(ValueError, match="2 entries but the model returns 5"):
        build_objective({"name": "deep_supervision", "aux_weights": [1.0, 1.0]}, model)(model, batch)
