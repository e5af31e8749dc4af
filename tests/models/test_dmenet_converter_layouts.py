"""The DMENet converter reads both TensorLayer conv layouts: ``W_conv2d``/``b_conv2d`` and TensorLayer
1.11.1's ``kernel``/``bias`` (synthetic npz files built from the official TF scopes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from converter_helpers import dmenet_variable_arrays

import dbdzoo.models.dmenet  # noqa: F401  (registers dmenet)
from dbdzoo import create_model
from dbdzoo.converters import get_converter


@pytest.fixture(scope="module")
def dmenet_arrays() -> list[tuple[str, np.ndarray]]:
    return dmenet_variable_arrays()


def _tl111_name(name: str) -> str:
    """TensorLayer 1.11.1 ``Conv2d`` (a ``tf.layers.Conv2D``): ``…/kernel`` and ``…/bias``."""
    return name.replace("/W_conv2d", "/kernel").replace("/b_conv2d", "/bias")


@pytest.mark.parametrize("doubled", [False, True])
def test_dmenet_tensorlayer_111_kernel_bias_layout(dmenet_arrays, tmp_path, doubled) -> None:
    prefix = "main_net/defocus_net/"
    legacy = {f"{prefix}{n}:0": a for n, a in dmenet_arrays}
    tl111 = {}
    for n, a in dmenet_arrays:
        name = _tl111_name(n)
        if doubled and name.endswith(("/kernel", "/bias")):  # tf.layers inside a same-named scope
            scope, var = name.rsplit("/", 1)
            name = f"{scope}/{scope.rsplit('/', 1)[1]}/{var}"
        tl111[f"{prefix}{name}:0"] = a
    assert any(k.endswith("encoder/conv1_1/kernel:0") for k in tl111) != doubled
    tl111[f"{prefix}encoder/conv1_1/kernel/Adam:0"] = np.ones((3, 3, 3, 8), np.float32)  # optimiser slot
    np.savez(tmp_path / "legacy.npz", **legacy)
    np.savez(tmp_path / "tl111.npz", **tl111)
    a = get_converter("dmenet")(tmp_path / "legacy.npz", backbone="tiny_vgg")
    b = get_converter("dmenet")(tmp_path / "tl111.npz", backbone="tiny_vgg")
    assert a.state_dict.keys() == b.state_dict.keys()
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    kernel = dict(dmenet_arrays)["encoder/conv1_1/W_conv2d"]  # the kernel is transposed, not copied as is
    np.testing.assert_array_equal(
        b.state_dict["backbone.features.0.weight"].numpy(), kernel.transpose(3, 2, 0, 1)
    )
    model = create_model("dmenet", **b.config)
    model.load_state_dict(b.state_dict, strict=True)


def test_dmenet_layouts_name_both_when_missing_or_doubled(dmenet_arrays, tmp_path) -> None:
    entries = {f"{_tl111_name(n)}:0": a for n, a in dmenet_arrays}
    entries.pop("decoder/uf/c3/bias:0")
    np.savez(tmp_path / "missing.npz", **entries)
    with pytest.raises(ValueError, match="decoder/uf/c3/b_conv2d or decoder/uf/c3/bias"):
        get_converter("dmenet")(tmp_path / "missing.npz", backbone="tiny_vgg")
    entries["decoder/uf/c3/bias:0"] = entries["decoder/uf/c3/b_conv2d:0"] = np.zeros(1, np.float32)
    np.savez(tmp_path / "both.npz", **entries)
    with pytest.raises(ValueError, match="both .*decoder/uf/c3/b_conv2d"):
        get_converter("dmenet")(tmp_path / "both.npz", backbone="tiny_vgg")
