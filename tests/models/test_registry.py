"""The one model surface: ``name.tag`` parsed in one place, ``create_model`` / ``list_models`` (timm's
signatures) over ``build_model``, and BTBNet/BTBCRL options declared once."""

from __future__ import annotations

import pytest

import dbdzoo
from dbdzoo.models import MODELS, build_model, split_model_name
from dbdzoo.registry import accepted_options

TINY = {"backbone": "tiny_vgg", "decoder_channels": 8}
TINY_BTB = {"backbone": "tiny_vgg", "backbone_kwargs": {"pools": False}}


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("fpn_resnet10t.cuhk", ("fpn_resnet10t", "cuhk")),
        ("fpn_resnet10t:synthetic", ("fpn_resnet10t", "synthetic")),
        ("fpn", ("fpn", None)),
        ("fpn.", ("fpn.", None)),  # an empty tag is no tag
        ("model.safetensors", ("model.safetensors", None)),  # the stem is no registered name
        ("fpn.x/y", ("fpn.x/y", None)),  # a tag never holds a path separator
        ("org/fpn", ("org/fpn", None)),
    ],
)
def test_split_model_name(name, split) -> None:
    assert split_model_name(name) == split


def test_build_model_records_its_arguments_and_create_model_is_the_same_untrained() -> None:
    built = build_model("fpn", **TINY)
    created = dbdzoo.create_model("fpn", **TINY)
    assert built.config == created.config == {"name": "fpn", **TINY}
    assert type(built) is type(created) and created.training and not hasattr(created, "load_source")


def test_list_models_filters_like_timm() -> None:
    everything = dbdzoo.list_models()
    assert everything == MODELS.names() == sorted(everything)
    assert dbdzoo.list_models("fpn*") == ["fpn", "fpn_resnet10t", "fpn_resnet18"]
    assert dbdzoo.list_models(["btb*", "cenet"]) == ["btbcrl", "btbnet", "cenet"]
    assert dbdzoo.list_models(trainable=False) == ["hifst", "lbp"]
    assert set(dbdzoo.list_models(trainable=True)) == set(everything) - {"hifst", "lbp"}
    assert dbdzoo.list_models("fpn_resnet10t", pretrained=True) == [
        "fpn_resnet10t.cuhk",
        "fpn_resnet10t.synthetic",
    ]
    assert dbdzoo.list_models("*.cuhk", pretrained=True) == ["fpn_resnet10t.cuhk"]
    assert dbdzoo.list_models(pretrained=True, trainable=False) == []


def test_create_model_refuses_a_tag_given_twice_and_an_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"either in the name \('fpn_resnet10t\.cuhk'\) or as weights="):
        dbdzoo.create_model("fpn_resnet10t.cuhk", weights="cuhk")
    with pytest.raises(KeyError, match=r"unknown model 'fpn_resnet99'; valid names: .*fpn_resnet10t"):
        dbdzoo.create_model("fpn_resnet99")


def test_btbnet_and_btbcrl_share_their_stream_options() -> None:
    stream = {"backbone", "scales", "share_streams", "td_steps", "td_widths", "checkpoint_streams"}
    assert stream <= accepted_options(MODELS.get("btbnet")) & accepted_options(MODELS.get("btbcrl"))
    assert {"fnet_width", "rr_iters"} <= accepted_options(MODELS.get("btbnet"))
    assert {"crl_space", "crl_width"} <= accepted_options(MODELS.get("btbcrl"))
    net = dbdzoo.create_model("btbnet", scales=(1.0, 0.5), td_steps=2, **TINY_BTB)
    crl = dbdzoo.create_model("btbcrl", scales=(1.0, 0.5), td_steps=2, **TINY_BTB)
    assert (
        net.scales == crl.scales == (1.0, 0.5) and len(net.streams[0].steps) == len(crl.streams[0].steps) == 2
    )
    assert len(net.streams[0].side_heads) == 0 and len(crl.streams[0].side_heads) == 1
    with pytest.raises(ValueError, match=r"^side_heads=True: BTBNet has no side heads"):
        dbdzoo.create_model("btbnet", side_heads=True, **TINY_BTB)


def test_did_you_mean_names_the_nearest_choice_or_nothing() -> None:
    from dbdzoo.registry import did_you_mean

    choices = {"decoder_channels", "backbone", "deep_supervision"}
    assert (
        did_you_mean("decoder_chanels", choices, prefix="model.") == "; did you mean model.decoder_channels?"
    )
    assert did_you_mean("xyzzy", choices) == ""
