"""Input-pipeline options ``data.cache``, ``data.augment_on`` and ``data.render_on``: values and checks.

The options are declared with their defaults in ``configs/data/_loading.yaml``; here each is checked
against the training sets before anything is built, so a value that cannot apply costs one line naming
the key and what to use instead, not a model build or a DataLoader worker's traceback.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, get_args, get_type_hints

from torch.utils.data import Dataset

from .config.sections import DataSchema

#: option -> accepted values, the default first: the data schema's choices (config/sections.py)
SPEED_OPTIONS = {
    key: get_args(get_type_hints(DataSchema)[key]) for key in ("cache", "augment_on", "render_on")
}
#: the module ``data.render_on=device`` builds its stream from
DEVICE_RENDERER = "dbdzoo.data.synthetic.device_stream"
MEMORY_KEY = "config data.cache=ram"


def speed_options(data_cfg: dict[str, Any]) -> dict[str, str]:
    """``data.cache``, ``data.augment_on`` and ``data.render_on``, each checked, with their defaults."""
    options = {}
    for key, choices in SPEED_OPTIONS.items():
        options[key] = data_cfg.get(key) or choices[0]
        if options[key] not in choices:
            raise ValueError(f"config data.{key}={options[key]!r}: expected one of {', '.join(choices)}")
    return options


def rendered(spec: dict[str, Any], options: dict[str, str]) -> bool:
    """Whether this training set is rendered on the device (no loader, no worker transform)."""
    return options["render_on"] == "device" and spec.get("name") == "synthetic"


def cacheable(spec: dict[str, Any]) -> bool:
    """Every part of the dataset decodes files (a reader), so ``data.cache=ram`` can keep it."""
    from ..data.base import DATASETS, ReaderBase

    parts = [DATASETS.get(p.strip()) for p in str(spec.get("name", "")).split("+")]
    return all(isinstance(c, type) and issubclass(c, ReaderBase) for c in parts)


def train_specs(data_cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Training dataset specs by domain: ``{"main": train}`` or the ``domains`` mapping (DMENet)."""
    if data_cfg.get("domains"):
        return dict(data_cfg["domains"])
    if not data_cfg.get("train"):
        raise ValueError("data.train (or data.domains) must name a training dataset")
    return {"main": data_cfg["train"]}


def labelled_train_specs(data_cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Training dataset specs by the config key a message should name (``data.train``, ``data.domains.X``)."""
    return {
        ("data.train" if d == "main" else f"data.domains.{d}"): v for d, v in train_specs(data_cfg).items()
    }


def check_speed_options(data: dict[str, Any]) -> None:
    """Each option must apply to at least one training set, and the device renderer must be installed.

    Sets an option cannot apply to are left as they are (DMENet's domains mix renders, CUHK and photos):
    ``render_on`` moves only the synthetic renderer, ``augment_on`` only sets with a transform, ``cache``
    only file readers.
    """
    from ..data.device_augment import DEVICE_RECIPES

    options = speed_options(data)
    specs = labelled_train_specs(data)
    first, spec = next(iter(specs.items()))
    if options["render_on"] == "device":
        if not any(rendered(s, options) for s in specs.values()):
            raise ValueError(
                f"config data.render_on=device: {first}.name={spec.get('name')!r} is not the synthetic "
                "renderer, the only dataset rendered on the device; use data.render_on=worker"
            )
        if importlib.util.find_spec(DEVICE_RENDERER) is None:
            raise ValueError(
                f"config data.render_on=device: this install has no device renderer ({DEVICE_RENDERER}); "
                "use data.render_on=worker"
            )
        check = getattr(importlib.import_module(DEVICE_RENDERER), "device_render_options", None)
        for s in specs.values():  # the renderer's own spec check, now rather than after the model build
            try:
                if check is not None and rendered(s, options):
                    check(s)
            except ValueError as exc:
                raise ValueError(f"config data.render_on=device: {exc}") from None
    if options["augment_on"] == "device":
        moved = [w for w, s in specs.items() if s.get("transform") and not rendered(s, options)]
        for where in moved:
            recipe = specs[where]["transform"].get("recipe")
            if recipe not in DEVICE_RECIPES:
                raise ValueError(
                    f"config data.augment_on=device: {where}.transform.recipe={recipe!r} has no device form "
                    f"(recipes with one: {', '.join(DEVICE_RECIPES)}); use data.augment_on=worker"
                )
        if not moved:
            raise ValueError(
                f"config data.augment_on=device: no training set has a transform to run on the device "
                f"({first} has none); use data.augment_on=worker"
            )
    if options["cache"] == "ram" and not any(
        cacheable(s) and not rendered(s, options) for s in specs.values()
    ):
        raise ValueError(
            f"config data.cache=ram: {first}.name={spec.get('name')!r} decodes no files to keep in memory "
            "(only dataset readers such as cuhk or folder do); use data.cache=none"
        )


def _local_ranks() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))  # each rank on this machine holds its own cache


def check_cache_fits(data_cfg: dict[str, Any]) -> None:
    """With ``data.cache=ram``, refuse a cache that would not fit before the model is built."""
    options = speed_options(data_cfg)
    if options["cache"] != "ram":
        return
    from ..data import ComposedDataset
    from ..data.cache import check_fits
    from .builders import build_dataset

    specs = [s for s in labelled_train_specs(data_cfg).values() if cacheable(s) and not rendered(s, options)]
    parts = {
        str(i): build_dataset({k: v for k, v in s.items() if k != "transform"}) for i, s in enumerate(specs)
    }
    check_fits(ComposedDataset(parts), _local_ranks(), MEMORY_KEY)


def ram_cached(dataset: Dataset, workers: int) -> Dataset:
    """``dataset`` served from a shared in-memory cache, refused when it would not fit (every local rank)."""
    from ..data.cache import check_fits, with_ram_cache

    check_fits(dataset, _local_ranks(), MEMORY_KEY)
    return with_ram_cache(dataset, workers)
