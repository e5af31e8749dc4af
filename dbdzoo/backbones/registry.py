"""Backbone registry: every name a config may put under ``backbone:``."""

from __future__ import annotations

from ..registry import Registry
from . import resnet10t as native_resnet10t
from .base import Backbone
from .timm_universal import TimmBackbone
from .vgg import build_vgg

BACKBONES: Registry = Registry("backbone")


def create_backbone(name: str, *, pretrained: bool = False, weights: str | None = None, **kwargs) -> Backbone:
    """Build a registered backbone, or any timm model as ``timm:<name>``.

    Args:
        name: a name from ``list_backbones()`` or ``timm:<timm model name>``.
        pretrained: load the published ImageNet weights (local HF cache first; fails fast offline).
        weights: a local ``.safetensors``/``.pth`` state dict; takes precedence, never touches the network.
        **kwargs: backbone options (``pool5``, ``dilations``, ``padding_mode``, ``out_indices``, ...).
    """
    if name.startswith("timm:"):
        return _timm(name[5:], pretrained=pretrained, weights=weights, **kwargs)
    return BACKBONES.get(name)(pretrained=pretrained, weights=weights, **kwargs)


def list_backbones(pattern: str = "*") -> list[str]:
    """Registered backbone names matching ``pattern`` (any timm model also works as ``timm:<name>``)."""
    return BACKBONES.names(pattern)


@BACKBONES.register("vgg16")
def vgg16(*, pool5: bool = False, **kwargs) -> Backbone:
    """VGG16 taps relu1_2…relu5_3 (strides 1–16), optional pool5 (stride 32); weights vgg16.tv_in1k."""
    return build_vgg("vgg16", pool5=pool5, **kwargs)


@BACKBONES.register("vgg16_poolfree")
def vgg16_poolfree(*, dilate: bool = False, **kwargs) -> Backbone:
    """VGG16 with all five pools removed (BTBNet); ``dilate`` uses dilation 1/2/4/8/16 per block."""
    dilations = (1, 2, 4, 8, 16) if dilate else None
    return build_vgg("vgg16", pools=False, dilations=dilations, **kwargs)


@BACKBONES.register("vgg19")
def vgg19(*, pool5: bool = False, **kwargs) -> Backbone:
    """VGG19 taps relu1_2, relu2_2, relu3_4, relu4_4, relu5_4 (DMENet's skips); weights vgg19.tv_in1k."""
    return build_vgg("vgg19", pool5=pool5, **kwargs)


@BACKBONES.register("tiny_vgg")
def tiny_vgg(*, pool5: bool = False, pools: bool = True, **kwargs) -> Backbone:
    """A VGG-shaped net with widths 8–32 and random weights: makes every VGG model cheap in tests."""
    if kwargs.pop("pretrained", False):
        raise ValueError("tiny_vgg has no published weights; use pretrained=False")
    return build_vgg("tiny_vgg", pool5=pool5, pools=pools, **kwargs)


def _timm(timm_name: str, **kwargs) -> Backbone:
    """A timm network; ResNet-10-T natively (no timm import) when the options are ones it builds the same."""
    if timm_name == "resnet10t" and native_resnet10t.supports(**kwargs):
        for key in ("pretrained", "weights"):  # supports() made sure none are asked for
            kwargs.pop(key, None)
        return native_resnet10t.ResNet10TFeatures(**kwargs)
    return TimmBackbone(timm_name, **kwargs)


def _timm_family(timm_name: str, doc: str, stem_pool: bool):
    def factory(**kwargs) -> Backbone:
        kwargs.setdefault("stem_pool", stem_pool)
        return _timm(timm_name, **kwargs)

    factory.__doc__ = doc
    return factory


for _name in (
    "resnet10t",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnext50_32x4d",
    "resnext101_32x4d",
):
    BACKBONES.register(_name)(
        _timm_family(_name, f"timm {_name}: layer0 (stem + max-pool, stride 4) … layer4 (stride 32).", True)
    )
BACKBONES.register("tiny_resnet")(
    _timm_family("test_resnet", "timm's tiny random test_resnet (32/32/48/192/96 ch); for tests.", True)
)
