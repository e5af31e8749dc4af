"""Converters from the authors' released checkpoints to dbdzoo state dicts.

Each converter module registers a function ``convert(path) -> Converted`` under the model's name;
``dbdzoo convert`` and ``load_model`` find them here.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field

import torch

from ..registry import Registry

CONVERTERS: Registry = Registry("converter")
_KNOWN_MODULES = ("br2net", "dmenet")


@dataclass
class Converted:
    """A converted checkpoint: what ``create_model(model, **config)`` needs plus the weights."""

    model: str
    config: dict
    state_dict: dict[str, torch.Tensor]
    notes: list[str] = field(default_factory=list)


def get_converter(name: str):
    """The converter registered for ``name`` (imports the converter modules on first use)."""
    for module in _KNOWN_MODULES:
        if importlib.util.find_spec(f"{__name__}.{module}") is not None:
            importlib.import_module(f"{__name__}.{module}")
    return CONVERTERS.get(name)
