"""dbdzoo data layer: benchmark readers, paired transforms, seeded workers and the synthetic renderer.

Every dataset yields the same sample dicts (docs/datasets.md) in the canonical polarity (1 = blurred).
"""

from . import readers  # noqa: F401  (registers the benchmark readers)
from .base import DATASETS, ReaderBase, Sample
from .collate import collate
from .factory import ComposedDataset, create_dataset, list_datasets
from .io import GT_THRESHOLD, DataError
from .seeding import seed_transforms, seed_worker
from .splits import load_split_list, zhao_number_to_cuhk
from .synthetic import SceneConfig, SyntheticDefocusDataset, SyntheticDefocusStream, render_defocus
from .transforms import PairedTransform, build_transform

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
