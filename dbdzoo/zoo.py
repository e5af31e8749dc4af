"""The one model surface, timm style: ``create_model(name, pretrained=False | weights=...)`` and ``list_models``.

It sits above both ``models`` (architectures) and ``hub`` (released weights), so neither needs the other;
``hubconf.py`` is a thin alias of it.

    model = dbdzoo.create_model("fpn_resnet10t", pretrained=True)     # default (best) released weights
    model = dbdzoo.create_model("fpn_resnet10t.synthetic")            # a tag, timm's name.tag form
    model = dbdzoo.create_model("fpn_resnet10t", weights="cuhk")      # the same by keyword
    model = dbdzoo.create_model("fpn", backbone="resnet50")            # untrained, architecture options
    dbdzoo.list_models(pretrained=True)                               # ['fpn_resnet10t.cuhk', ...]

Saving and sharing are plain functions of the hub (``dbdzoo.hub.save_pretrained(model, folder)``,
``push_to_hub(model, repo)``, ``dbdzoo.load_model(folder | repo)``), not methods: see docs/hub.md.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from typing import Any

from .models import MODELS, DBDModel, build_model, is_trainable, split_model_name


def create_model(
    name: str, pretrained: bool = False, weights: str | os.PathLike | None = None, **kwargs: Any
) -> DBDModel:
    """Build a registered network, untrained (default) or with weights.

    Args:
        name: registry name, optionally ``name.tag`` (or ``name:tag``) naming released weights.
        pretrained: load the model's default released weights (shipped with the package, offline).
        weights: a released weights tag (``"cuhk"``, ``"DEFAULT"``), or a file/folder/URL/Hub repo holding
            this model's weights.
        **kwargs: architecture options (``create_model("fpn", backbone="resnet50")``).

    Returned models with weights are in eval mode with ``model.pretrained_tag`` (released weights) and
    ``model.load_source`` set; untrained ones are in train mode, as ``torch.nn.Module`` starts.
    """
    base, tag = split_model_name(name)
    if tag is not None and weights is not None:
        raise ValueError(
            f"give the weights either in the name ({name!r}) or as weights={weights!r}, not both"
        )
    choice = tag if tag is not None else weights
    if choice is None and not pretrained:
        return build_model(base, **kwargs)
    from .hub import load_model

    return load_model(base, weights=choice, **kwargs)


def list_models(
    filter: str | Sequence[str] = "", pretrained: bool = False, *, trainable: bool | None = None
) -> list[str]:
    """Registered model names, sorted (timm's signature).

    Args:
        filter: fnmatch pattern(s) a name must match (``""`` = all); with ``pretrained=True`` a pattern
            may match the whole ``name.tag`` or the model name alone.
        pretrained: list the released weights as ``name.tag`` instead of architectures.
        trainable: ``True`` keeps the networks (what training benchmarks and exports iterate), ``False``
            the parameter-free classical methods (HiFST, LBP), ``None`` both.
    """
    patterns = [filter] if isinstance(filter, str) else list(filter)
    patterns = [p for p in patterns if p] or ["*"]
    if pretrained:
        from .hub.weights import pretrained_names

        names = pretrained_names()
    else:
        names = MODELS.names()

    def keep(name: str) -> bool:
        base = split_model_name(name)[0]
        matches = any(fnmatch.fnmatch(n, p) for p in patterns for n in {name, base})
        return matches and (trainable is None or is_trainable(base) == trainable)

    return [n for n in names if keep(n)]
