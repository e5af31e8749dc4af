"""dbdzoo data layer: benchmark readers, paired transforms, seeded workers and the synthetic renderer.

Every dataset yields the same sample dicts (docs/datasets.md) in the canonical polarity (1 = blurred).
"""

import importlib
from typing import Any

from . import readers  # noqa: F401  (registers the benchmark readers)
from .base import DATASETS, ReaderBase, Sample
from .collate import collate
from .factory import ComposedDataset, create_dataset, list_datasets
from .io import GT_THRESHOLD, DataError
from .splits import load_split_list, zhao_number_to_cuhk
from .synthetic import SceneConfig, SyntheticDefocusDataset, SyntheticDefocusStream, render_defocus

# albumentations (half a second to import) loads with the first transform or worker seeding asked for:
# reading an image (``model.predict(path)``, ``dbdzoo.data.io``) or listing datasets needs none of it.
_LAZY = {
    "PairedTransform": "transforms",
    "build_transform": "transforms",
    "seed_transforms": "seeding",
    "seed_worker": "seeding",
    "transforms": "transforms",
    "seeding": "seeding",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return module if name == _LAZY[name] else getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATASETS",
    "GT_THRESHOLD",
    "ComposedDataset",
    "DataError",
    "PairedTransform",
    "ReaderBase",
    "Sample",
    "SceneConfig",
    "SyntheticDefocusDataset",
    "SyntheticDefocusStream",
    "build_transform",
    "collate",
    "create_dataset",
    "list_datasets",
    "load_split_list",
    "render_defocus",
    "seed_transforms",
    "seed_worker",
    "zhao_number_to_cuhk",
]
