"""Backbone registry: reported channels/strides match real outputs; weights load strictly and offline."""

from __future__ import annotations

import pickle

import pytest
import timm
import torch
from safetensors.torch import save_file

import dbdzoo
from dbdzoo.backbones import PretrainedWeightsUnavailable, create_backbone, list_backbones


@pytest.mark.parametrize("name", list_backbones())
def test_reported_channels_and_strides_match_outputs(name: str) -> None:
    backbone = create_backbone(name).eval()
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        feats = backbone(x)
    assert len(feats) == len(backbone.channels) == len(backbone.strides) == len(backbone.taps)
    for f, ch, s in zip(feats, backbone.channels, backbone.strides, strict=True):
        assert f.shape[1] == ch
        assert f.shape[-2:] == (64 // s, 96 // s)


def test_required_backbones_are_registered() -> None:
    names = set(dbdzoo.list_backbones())
    assert {
        "vgg16",
        "vgg16_poolfree",
        "vgg19",
        "resnext101_32x4d",
        "resnet50",
        "tiny_vgg",
        "tiny_resnet",
    } <= names


@pytest.mark.parametrize(
    ("name", "timm_name", "taps"),
    [
        ("vgg16", "vgg16", ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3", "pool5"]),
        ("vgg19", "vgg19", ["relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4", "pool5"]),
    ],
)
def test_vgg_taps_equal_timm_features_only(name: str, timm_name: str, taps: list[str]) -> None:
    ref = timm.create_model(timm_name, features_only=True, pretrained=False).eval()
    full = timm.create_model(timm_name, pretrained=False)
    ours = create_backbone(name, pool5=True).eval()
    ours.load_vgg_state_dict(full.state_dict(), "timm")
    ref_state = {k.replace("features_", "features."): v for k, v in ref.state_dict().items()}
    ours.load_state_dict({k: ref_state[k] for k in ours.state_dict()})
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), ref(x), strict=True):
            torch.testing.assert_close(a, b)
    assert list(ours.taps) == taps


def test_poolfree_vgg_keeps_resolution_and_weight_layout() -> None:
    plain = create_backbone("vgg16")
    free = create_backbone("vgg16_poolfree", dilate=True)
    assert plain.state_dict().keys() == free.state_dict().keys()
    assert free.strides == (1, 1, 1, 1, 1)
    assert free.features[24].dilation == (16, 16)  # conv5_1 in the fifth block
    assert isinstance(free.features[4], torch.nn.Identity)


def test_replicate_padding_reaches_every_conv() -> None:
    b = create_backbone("vgg19", padding_mode="replicate")
    convs = [m for m in b.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 16 and all(c.padding_mode == "replicate" for c in convs)


def test_local_vgg_weights_load_from_safetensors_and_pth(tmp_path) -> None:
    state = timm.create_model("vgg16", pretrained=False).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "vgg16.safetensors")
    torch.save(state, tmp_path / "vgg16.pth")
    for path in (tmp_path / "vgg16.safetensors", tmp_path / "vgg16.pth"):
        b = create_backbone("vgg16", weights=str(path))
        torch.testing.assert_close(b.features[0].weight, state["features.0.weight"])


def test_local_timm_weights_load_including_headless_files(tmp_path) -> None:
    full = timm.create_model("resnet18", pretrained=False)
    state = {k: v for k, v in full.state_dict().items() if not k.startswith("fc.")}
    save_file(state, tmp_path / "r18.safetensors")
    b = create_backbone("resnet18", weights=str(tmp_path / "r18.safetensors"))
    torch.testing.assert_close(b.body.conv1.weight, state["conv1.weight"])


def test_wrong_architecture_weights_report_keys_and_refuse(tmp_path) -> None:
    save_file(timm.create_model("resnet18").state_dict(), tmp_path / "r18.safetensors")
    with pytest.raises(ValueError, match=r"missing keys .*layer1\.0\.conv3"):
        create_backbone("resnet50", weights=str(tmp_path / "r18.safetensors"))
    with pytest.raises(ValueError, match="no 'features"):
        create_backbone("vgg16", weights=str(tmp_path / "r18.safetensors"))


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_objects_are_refused(tmp_path) -> None:
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"features.0.weight": _Evil()}))
    with pytest.raises(ValueError, match="weights_only=True"):
        create_backbone("vgg16", weights=str(path))


def test_pretrained_offline_fails_fast_with_instructions(monkeypatch, tmp_path) -> None:
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(PretrainedWeightsUnavailable, match=r"timm/vgg16\.tv_in1k.*weights=<path"):
        create_backbone("vgg16", pretrained=True)
    with pytest.raises(PretrainedWeightsUnavailable, match="gluon_in1k"):
        create_backbone("resnext101_32x4d", pretrained=True)


def test_pretrained_download_errors_are_wrapped(monkeypatch, tmp_path) -> None:
    import huggingface_hub
    import huggingface_hub.constants as hf_constants

    def unreachable(*args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with pytest.raises(PretrainedWeightsUnavailable, match="ConnectionError.*pretrained=False"):
        create_backbone("vgg19", pretrained=True)


def test_pretrained_uses_warm_hf_cache_without_network(monkeypatch, tmp_path) -> None:
    import huggingface_hub.constants as hf_constants

    snapshot = tmp_path / "models--timm--vgg16.tv_in1k" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (tmp_path / "models--timm--vgg16.tv_in1k" / "refs").mkdir()
    (tmp_path / "models--timm--vgg16.tv_in1k" / "refs" / "main").write_text("abc123")
    state = timm.create_model("vgg16", pretrained=False).state_dict()
    save_file(state, snapshot / "model.safetensors")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    b = create_backbone("vgg16", pretrained=True)
    torch.testing.assert_close(b.features[28].weight, state["features.28.weight"])


def test_unknown_backbone_lists_valid_names() -> None:
    with pytest.raises(KeyError, match="valid names: .*vgg16"):
        create_backbone("vgg17")


def test_any_timm_model_through_prefix() -> None:
    b = create_backbone("timm:resnet10t")
    assert b.strides == (2, 4, 8, 16, 32)
