"""Converters from the authors' checkpoints: BR2Net (PyTorch, Torch7 ResNeXt) and DMENet (TensorLayer npz).

The official layouts are rebuilt here independently of the converters: BR2Net as a module tree with the
official attribute names and the Torch7 ResNeXt nesting, DMENet as arrays in the order the official
``VGG19_down`` / ``UNet_up`` create their TF variables (H×W×in×out kernels).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from converter_helpers import dmenet_variable_arrays, training_head
from safetensors.torch import save_file
from torch import nn

import dbdzoo.models.br2net  # noqa: F401  (registers br2net)
import dbdzoo.models.dmenet  # noqa: F401  (registers dmenet)
from dbdzoo import create_model
from dbdzoo.converters import get_converter
from dbdzoo.converters.br2net import convert_state_dict


# ---------------------------------------------------------------------------------------------- BR2Net
class Branches(nn.Sequential):
    """Torch7 ``LambdaMap``: applies each child to the input; the block then adds them (``LambdaReduce``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(branch(x) for branch in self)


def torch7_bottleneck(in_ch: int, width: int, out_ch: int, stride: int) -> nn.Sequential:
    residual = nn.Sequential(
        nn.Sequential(
            nn.Conv2d(in_ch, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, stride, 1, groups=32, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        ),
        nn.Conv2d(width, out_ch, 1, bias=False),
        nn.BatchNorm2d(out_ch),
    )
    shortcut = (
        nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))
        if stride != 1 or in_ch != out_ch
        else nn.Identity()
    )
    return nn.Sequential(Branches(residual, shortcut), nn.Identity(), nn.ReLU())


def torch7_resnext101_32x4d() -> nn.Sequential:
    """The ``resnext_101_32x4d_`` nn.Sequential: 0 conv, 1 bn, 2 relu, 3 maxpool, 4–7 stages, 10.1 fc."""
    stages, in_ch = [], 64
    for i, (blocks, width) in enumerate(zip((3, 4, 23, 3), (128, 256, 512, 1024), strict=True)):
        out_ch = width * 2
        stage = [
            torch7_bottleneck(in_ch if b == 0 else out_ch, width, out_ch, 2 if i and b == 0 else 1)
            for b in range(blocks)
        ]
        stages.append(nn.Sequential(*stage))
        in_ch = out_ch
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
        *stages, nn.AvgPool2d(7, 1), nn.Flatten(), nn.Sequential(nn.Identity(), nn.Linear(2048, 1000)),
    )  # fmt: skip


class CALayer(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_du = nn.Sequential(
            nn.Conv2d(channels, channels // 16, 1),
            nn.ReLU(),
            nn.Conv2d(channels // 16, channels, 1),
            nn.Sigmoid(),
        )


def official_br2net_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict under the official ``model.py`` names (R3Net's ResNeXt wrapper), random values."""
    net = torch7_resnext101_32x4d()
    official = nn.Module()
    official.layer0 = nn.Sequential(*list(net)[:4])
    for k in range(1, 5):
        setattr(official, f"layer{k}", net[3 + k])
    channels = (64, 256, 512, 1024, 2048)
    for k, ch in enumerate(channels):
        setattr(official, f"CAlayer{k}", nn.Sequential(CALayer(ch)))
    official.predictL2H0 = nn.Conv2d(64, 1, 1)
    official.predictH2L0 = nn.Conv2d(2048, 1, 1)
    for k in range(1, 5):
        for name, ch in ((f"predictL2H{k}", channels[k]), (f"predictH2L{k}", channels[4 - k])):
            block = nn.Sequential(
                nn.Conv2d(ch + 1, 128, 3, padding=1), nn.BatchNorm2d(128), nn.PReLU(),
                nn.Conv2d(128, 128, 3, padding=1), nn.BatchNorm2d(128), nn.PReLU(), nn.Conv2d(128, 1, 1),
            )  # fmt: skip
            setattr(official, name, block)
    g = torch.Generator().manual_seed(seed)
    state = official.state_dict()
    for i, (key, value) in enumerate(state.items()):
        if value.is_floating_point():
            value.copy_(torch.randn(value.shape, generator=g) * 0.01 + i)  # i makes every tensor unique
        if key.endswith("running_var"):
            value.abs_().add_(0.5)
    return state


@pytest.fixture(scope="module")
def br2net_official() -> dict[str, torch.Tensor]:
    with torch.random.fork_rng():
        return official_br2net_state()


def test_br2net_every_official_tensor_lands_once(br2net_official, tmp_path) -> None:
    path = tmp_path / "CA_6000.pth"
    torch.save({f"module.{k}": v for k, v in br2net_official.items()}, path)  # a DataParallel save
    converted = get_converter("br2net")(path)
    model = create_model("br2net", **converted.config)
    assert set(converted.state_dict) == set(model.state_dict())
    model.load_state_dict(converted.state_dict, strict=True)
    originals = sorted(
        round(float(v.flatten()[0]), 4) for v in br2net_official.values() if v.is_floating_point()
    )
    landed = sorted(
        round(float(v.flatten()[0]), 4) for v in converted.state_dict.values() if v.is_floating_point()
    )
    assert landed == originals  # each official tensor used exactly once
    pairs = {
        "layer3.22.0.0.0.3.weight": "backbone.body.layer3.22.conv2.weight",
        "layer2.0.0.1.1.running_var": "backbone.body.layer2.0.downsample.1.running_var",
        "layer0.1.bias": "backbone.body.bn1.bias",
        "CAlayer0.0.conv_du.2.weight": "attention.0.fc2.weight",
        "predictH2L4.4.running_mean": "high_to_low.4.4.running_mean",
        "predictL2H3.2.weight": "low_to_high.3.2.weight",
    }
    for theirs, ours in pairs.items():
        assert torch.equal(converted.state_dict[ours], br2net_official[theirs]), theirs
    assert model.attention[0].fc1.out_channels == 4


def test_br2net_torch7_backbone_matches_numerically(br2net_official, tmp_path) -> None:
    """The Torch7 ResNeXt file converts to the timm backbone and gives the same layer4 features."""
    torch7 = torch7_resnext101_32x4d().eval()
    mapping = {"layer0.0": "0", "layer0.1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    t7_state = torch7.state_dict()
    for official_prefix, top in mapping.items():
        for key in t7_state:
            if key.startswith(top + "."):
                t7_state[key] = br2net_official[f"{official_prefix}.{key[len(top) + 1 :]}"]
    torch7.load_state_dict(t7_state)
    converted = convert_state_dict(dict(t7_state))
    assert converted.notes and "backbone tensors only" in converted.notes[0]
    with torch.device("meta"):
        backbone_keys = {k for k in create_model("br2net").state_dict() if k.startswith("backbone.")}
    assert set(converted.state_dict) == backbone_keys
    # the documented route: strip the prefix, save, pass as the backbone's weights file
    path = tmp_path / "resnext101_torch7.safetensors"
    save_file({k.removeprefix("backbone.body."): v for k, v in converted.state_dict.items()}, str(path))
    model = create_model("br2net", backbone_kwargs={"weights": str(path)}).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        theirs = torch7[:8](x)
        ours = model.backbone(x)[-1]
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


def test_br2net_bdrar_layout_and_pytorch04_files(br2net_official) -> None:
    bdrar = {}
    for k, v in br2net_official.items():
        if k.endswith("num_batches_tracked"):
            continue  # PyTorch 0.4.0 did not save these counters
        bdrar["layer1.1." + k[len("layer1.") :] if k.startswith("layer1.") else k] = v
    converted = convert_state_dict(bdrar)
    assert converted.config["layer0_tap"] == "stem"
    assert any("num_batches_tracked" in n for n in converted.notes)
    with torch.device("meta"):
        reference = create_model("br2net", layer0_tap="stem").state_dict()
    assert set(converted.state_dict) == set(reference)
    broken = dict(br2net_official)
    broken["predictL2H9.0.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="no dbdzoo slot"):
        convert_state_dict(broken)


# ---------------------------------------------------------------------------------------------- DMENet
@pytest.fixture(scope="module")
def dmenet_arrays() -> list[tuple[str, np.ndarray]]:
    return dmenet_variable_arrays()


def test_dmenet_ordered_npz_with_training_extras(dmenet_arrays, tmp_path) -> None:
    encoder = [a for n, a in dmenet_arrays if n.startswith("encoder/")]
    decoder = [a for n, a in dmenet_arrays if n.startswith("decoder/")]
    trailing = [np.zeros((1, 1, 1, 64), np.float32), np.zeros(64, np.float32)]  # calibration net, ...
    path = tmp_path / "DMENet_BDCS.npz"
    np.savez(path, *encoder, *training_head(32), *decoder, *trailing)
    converted = get_converter("dmenet")(path, backbone="tiny_vgg")
    assert converted.config["norm_preset"] == "caffe_bgr" and converted.config["sigma_units"] == "coc15"
    assert any("training-only encoder head" in n for n in converted.notes)
    assert any("ignored 2 arrays" in n for n in converted.notes)
    model = create_model("dmenet", **converted.config)
    model.load_state_dict(converted.state_dict, strict=True)
    named = dict(dmenet_arrays)
    sd = converted.state_dict
    np.testing.assert_array_equal(
        sd["backbone.features.0.weight"].numpy(), named["encoder/conv1_1/W_conv2d"].transpose(3, 2, 0, 1)
    )
    np.testing.assert_array_equal(sd["aux_heads.0.out_norm.bias"].numpy(), named["decoder/u4_aux/b2/beta"])
    np.testing.assert_array_equal(
        sd["refine.6.body.1.norm.running_var"].numpy(), named["decoder/u0/b6_2/moving_variance"]
    )
    np.testing.assert_array_equal(sd["head.2.bias"].numpy(), named["decoder/uf/c3/b_conv2d"])
    # numerically: a TF-style HWIO convolution on unfolded patches equals F.conv2d with the converted kernel
    x = torch.rand(1, 16, 6, 6)
    kernel = named["decoder/u3/c2/W_conv2d"]  # 3×3×16×16
    patches = F.unfold(x, 3, padding=1)  # (1, in·3·3, L) ordered (in, kh, kw)
    tf_out = torch.from_numpy(kernel.transpose(2, 0, 1, 3).reshape(-1, kernel.shape[3])).T @ patches[0]
    torch_out = F.conv2d(x, sd["stages.0.1.conv.weight"], padding=1)
    torch.testing.assert_close(torch_out.flatten(2)[0], tf_out, rtol=1e-5, atol=1e-5)


def test_dmenet_named_npz_ignores_other_scopes(dmenet_arrays, tmp_path) -> None:
    prefix = "main_net/defocus_net/"
    entries = {f"{prefix}{n}:0": a for n, a in dmenet_arrays}
    entries[f"{prefix}encoder/conv1_1/W_conv2d/Adam:0"] = np.ones((3, 3, 3, 8), np.float32)
    entries["discriminator/perceptual/conv1_1/W_conv2d:0"] = np.ones((3, 3, 3, 8), np.float32)
    path = tmp_path / "named.npz"
    np.savez(path, **entries)
    named = get_converter("dmenet")(path, backbone="tiny_vgg")
    ordered_path = tmp_path / "ordered.npz"
    np.savez(ordered_path, *[a for _, a in dmenet_arrays])
    ordered = get_converter("dmenet")(ordered_path, backbone="tiny_vgg")
    assert named.state_dict.keys() == ordered.state_dict.keys()
    assert all(torch.equal(named.state_dict[k], ordered.state_dict[k]) for k in named.state_dict)
    entries.pop(f"{prefix}decoder/uf/c3/b_conv2d:0")
    np.savez(path, **entries)
    with pytest.raises(ValueError, match="decoder/uf/c3/b_conv2d"):
        get_converter("dmenet")(path, backbone="tiny_vgg")


def test_dmenet_pickled_save_npz_needs_opt_in(dmenet_arrays, tmp_path) -> None:
    path = tmp_path / "save_npz.npz"
    params = np.empty(len(dmenet_arrays), dtype=object)
    params[:] = [a for _, a in dmenet_arrays]
    np.savez(path, params=params)
    with pytest.raises(ValueError, match="allow_pickle"):
        get_converter("dmenet")(path, backbone="tiny_vgg")
    converted = get_converter("dmenet")(path, allow_pickle=True, backbone="tiny_vgg")
    assert "head.2.weight" in converted.state_dict
    truncated = tmp_path / "short.npz"
    np.savez(truncated, *[a for _, a in dmenet_arrays[:-3]])
    with pytest.raises(ValueError, match="ends before"):
        get_converter("dmenet")(truncated, backbone="tiny_vgg")
