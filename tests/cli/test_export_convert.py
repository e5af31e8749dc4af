"""``dbdzoo export`` (ONNX + onnxruntime parity, torch.export) and ``dbdzoo convert`` (test converter)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dbdzoo.models.fpn  # noqa: F401  (registers fpn)
from dbdzoo import create_model
from dbdzoo.cli import main
from dbdzoo.cli.export import ProbabilityMap
from dbdzoo.converters import CONVERTERS, Converted
from dbdzoo.hub import load_model, save_pretrained
from dbdzoo.models import MODELS, DBDModel, ModelOutput


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model") / "fpn_tiny"
    save_pretrained(create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval(), folder)
    return folder


def test_probability_wrapper_matches_predict_at_any_size(saved):
    model = load_model(saved)
    x = torch.rand(2, 3, 45, 70)
    torch.testing.assert_close(ProbabilityMap(model)(x), model.predict(x), rtol=0, atol=1e-6)


@pytest.mark.export
def test_onnx_export_with_onnxruntime_parity(saved, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra: pip install 'dbdzoo[onnx]'")
    out = tmp_path / "fpn.onnx"
    args = [
        "export",
        "--model",
        str(saved),
        "--format",
        "onnx",
        "--out",
        str(out),
        "--height",
        "64",
        "--width",
        "64",
    ]
    assert main([*args, "--check"]) == 0
    assert "check passed at (3, 3, 81, 97)" in capsys.readouterr().err
    # batch 1 and another odd size, straight from onnxruntime
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"] and [
        o.name for o in session.get_outputs()
    ] == ["blur"]
    meta = session.get_modelmeta().custom_metadata_map  # usable without dbdzoo
    assert meta["model_name"] == "fpn" and meta["task"] == "dbd"
    assert meta["polarity"].startswith("1 = out of focus") and "RGB in [0, 1]" in meta["input"]
    assert '"backbone": "tiny_vgg"' in meta["model_config"]
    x = torch.rand(1, 3, 37, 50)
    got = session.run(None, {"image": x.numpy()})[0]
    want = load_model(saved).predict(x).numpy()
    assert got.shape == (1, 1, 37, 50)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5)


@pytest.mark.export
def test_torch_export_archive(saved, tmp_path, capsys):
    out = tmp_path / "fpn.pt2"
    args = ["export", "--model", str(saved), "--format", "torch-export", "--out", str(out), "--height", "64"]
    assert main([*args, "--width", "64", "--check"]) == 0
    assert "check passed" in capsys.readouterr().err
    program = torch.export.load(str(out)).module()
    x = torch.rand(2, 3, 64, 96)
    torch.testing.assert_close(program(x), load_model(saved).predict(x), rtol=1e-4, atol=1e-5)


def test_convert_with_a_registered_converter(tmp_path, monkeypatch, capsys):
    torch.manual_seed(3)
    source_model = create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()
    # an "author checkpoint": numpy arrays under foreign names, as a TensorLayer .npz would hold them
    src = tmp_path / "authors.npz"
    np.savez(src, **{f"layer_{i}": v.numpy() for i, v in enumerate(source_model.state_dict().values())})
    keys = list(source_model.state_dict())

    def toy_converter(path):
        arrays = np.load(path)
        state = {k: torch.from_numpy(arrays[f"layer_{i}"]) for i, k in enumerate(keys)}
        config = {"backbone": "tiny_vgg", "decoder_channels": 8}
        return Converted(model="fpn", config=config, state_dict=state, notes=["toy mapping for tests"])

    monkeypatch.setitem(CONVERTERS._entries, "toy_fpn", toy_converter)
    out = tmp_path / "converted"
    assert main(["convert", "--model", "toy_fpn", str(src), "--out", str(out)]) == 0
    assert "toy mapping for tests" in capsys.readouterr().err
    assert "toy mapping for tests" in (out / "README.md").read_text()
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(load_model(out)(x).logits, source_model(x).logits, rtol=0, atol=0)

    assert main(["convert", "--model", "no_such_converter", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown converter 'no_such_converter'" in err[0]


class _HalfScale(DBDModel):
    """A multi-scale toy that sizes its branch with Python ``round`` (as BTBNet's streams do)."""

    def __init__(self) -> None:
        super().__init__(norm_preset="none", input_multiple=1)
        self.conv = torch.nn.Conv2d(3, 1, 3, padding=1)

    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        h, w = x.shape[-2:]
        small = F.interpolate(x, size=(round(0.5 * h), round(0.5 * w)), mode="bilinear", align_corners=False)
        logits = F.interpolate(self.conv(small), size=(h, w), mode="bilinear", align_corners=False)
        return ModelOutput(logits=logits, aux=[], extras={})


def half_scale_for_tests() -> _HalfScale:
    return _HalfScale()


@pytest.mark.export
def test_export_falls_back_to_a_fixed_size(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(MODELS._entries, "half_scale_for_tests", half_scale_for_tests)
    save_pretrained(create_model("half_scale_for_tests").eval(), tmp_path / "toy")
    out = tmp_path / "toy.pt2"
    args = ["export", "--model", str(tmp_path / "toy"), "--format", "torch-export", "--out", str(out)]
    assert main([*args, "--height", "40", "--width", "56", "--check"]) == 0
    err = capsys.readouterr().err
    assert "exporting for a fixed 40×56 input" in err and "check passed at (3, 3, 40, 56)" in err
