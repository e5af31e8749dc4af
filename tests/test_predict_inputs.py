"""``model.predict`` takes paths, PIL images, uint8/float arrays (grey or RGB) and tensors; 0–255 floats fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import dbdzoo


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return dbdzoo.create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()


def test_every_image_form_gives_the_same_map(model, tmp_path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (21, 34, 3), dtype=np.uint8)
    ref = model.predict(image)
    Image.fromarray(image).save(tmp_path / "a.png")
    forms = {
        "path": tmp_path / "a.png",
        "str": str(tmp_path / "a.png"),
        "PIL": Image.fromarray(image),
        "float": image.astype(np.float32) / 255,
        "float64": image.astype(np.float64) / 255,
        "RGBA": np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]),
    }
    for name, form in forms.items():
        np.testing.assert_allclose(model.predict(form), ref, atol=1e-5, err_msg=name)
    tensor = torch.from_numpy(image).permute(2, 0, 1)
    np.testing.assert_allclose(model.predict(tensor)[0].numpy(), ref, atol=1e-5)  # uint8 3×H×W
    assert model.predict(tensor.float()[None] / 255).shape == (1, 1, 21, 34)
    assert [m.shape for m in model.predict([image, forms["PIL"]])] == [(21, 34), (21, 34)]


def test_grey_inputs_are_read_as_grey_rgb(model) -> None:
    grey = np.random.default_rng(1).integers(0, 256, (16, 24), dtype=np.uint8)
    ref = model.predict(np.dstack([grey] * 3))
    for form in (grey, grey[..., None], grey.astype(np.float32) / 255, Image.fromarray(grey)):
        np.testing.assert_allclose(model.predict(form), ref, atol=1e-5)


def test_out_of_range_floats_are_refused_with_the_fix(model) -> None:
    image = np.random.default_rng(2).uniform(0, 255, (16, 16, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"in \[0, 1\].*looks like 0–255: divide by 255"):
        model.predict(image)
    with pytest.raises(ValueError, match="looks like 0–255"):
        model.predict(torch.from_numpy(image).permute(2, 0, 1)[None])
    with pytest.raises(ValueError, match=r"expects RGB in \[0, 1\].*divide 0–255 images by 255"):
        model(torch.full((1, 3, 32, 32), 200.0))
    with pytest.raises(TypeError, match="path, PIL image, numpy array or tensor"):
        model.predict(12)
