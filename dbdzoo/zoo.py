"""The top-level user API, timm style: ``create_model(name, pretrained=True)`` and ``list_models(pretrained=True)``.

It sits above both ``models`` (architectures) and ``hub`` (released weights), so neither needs the other.
It also gives every network the Hugging Face style methods ``model.save_pretrained(folder)``,
``model.push_to_hub(repo)`` and ``Class.from_pretrained(ref)``: they live in ``dbdzoo.hub`` and are
attached here, so the model package imports nothing of the hub.

    model = dbdzoo.create_model("fpn_resnet10t", pretrained=True)     # default (best) released weights
    model = dbdzoo.create_model("fpn_resnet10t.synthetic")            # a tag, timm's name.tag form
    model = dbdzoo.create_model("fpn_resnet10t", weights="cuhk")      # the same by keyword
    dbdzoo.list_models(pretrained=True)                               # ['fpn_resnet10t.cuhk', ...]
"""

from __future__ import annotations

import os
from typing import Any

from .models import DBDModel
from .models import create_model as _create_architecture
from .models import list_models as _list_architectures


def _split(name: str) -> tuple[str, str | None]:
    base, sep, tag = name.partition(".")
    if sep and base in _list_architectures():
        return base, tag or None
    base, sep, tag = name.partition(":")
    return (base, tag or None) if sep else (name, None)


def create_model(
    name: str, pretrained: bool = False, weights: str | os.PathLike | None = None, **overrides: Any
) -> DBDModel:
    """Build a registered network, untrained (default) or with weights.

    Args:
        name: registry name, optionally ``name.tag`` (or ``name:tag``) naming released weights.
        pretrained: load the model's default released weights (shipped with the package, offline).
        weights: a released weights tag (``"cuhk"``), or a file/folder/URL/Hub repo of this model's weights.
        **overrides: architecture options (``create_model("fpn", backbone="resnet50")``).

    Returned models with weights are in eval mode with ``model.pretrained_tag`` set; untrained ones are in
    train mode, as ``torch.nn.Module`` starts.
    """
    base, tag = _split(name)
    if tag is not None and weights is not None:
        raise ValueError(
            f"give the weights either in the name ({name!r}) or as weights={weights!r}, not both"
        )
    choice = tag if tag is not None else weights
    if choice is None and not pretrained:
        return _create_architecture(base, **overrides)
    from .hub import load_model

    return load_model(base, weights=choice, **overrides)


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Registered architectures matching ``pattern``, or with ``pretrained=True`` the ``name.tag`` weights."""
    if not pretrained:
        return _list_architectures(pattern)
    from .hub.weights import pretrained_names

    return pretrained_names(pattern)


def _save_pretrained(self: DBDModel, save_directory: str | os.PathLike, **kwargs: Any) -> Any:
    """Write ``config.json``, ``model.safetensors`` and a model card (``dbdzoo.hub.save_pretrained``)."""
    from .hub import save_pretrained

    return save_pretrained(self, save_directory, **kwargs)


def _push_to_hub(self: DBDModel, repo_id: str, **kwargs: Any) -> str:
    """Upload a ``save_pretrained`` folder to the Hugging Face Hub (``dbdzoo.hub.push_to_hub``)."""
    from .hub import push_to_hub

    return push_to_hub(self, repo_id, **kwargs)


def _from_pretrained(cls: type[DBDModel], ref: str | os.PathLike, **kwargs: Any) -> DBDModel:
    """Load a ``save_pretrained`` folder or Hub repo id; ``FPN.from_pretrained`` also checks the class."""
    from .hub import from_pretrained

    model = from_pretrained(ref, **kwargs)
    if not isinstance(model, cls):
        raise TypeError(
            f"{ref} holds a {type(model).__name__}, not a {cls.__name__}; use DBDModel.from_pretrained"
        )
    return model


DBDModel.save_pretrained = _save_pretrained  # type: ignore[attr-defined]
DBDModel.push_to_hub = _push_to_hub  # type: ignore[attr-defined]
DBDModel.from_pretrained = classmethod(_from_pretrained)  # type: ignore[attr-defined]
