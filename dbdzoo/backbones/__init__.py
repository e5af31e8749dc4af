"""Backbones: a registry of feature extractors with known channels and strides."""

from .base import Backbone
from .registry import BACKBONES, create_backbone, list_backbones
from .timm_universal import TimmBackbone
from .vgg import VGGFeatures
from .weights import PretrainedWeightsUnavailable, load_strict, read_state_dict

__all__ = [
    "BACKBONES",
    "Backbone",
    "PretrainedWeightsUnavailable",
    "TimmBackbone",
    "VGGFeatures",
    "create_backbone",
    "list_backbones",
    "load_strict",
    "read_state_dict",
]
