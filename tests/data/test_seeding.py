"""The albumentations worker trap: without seed_worker both workers repeat each other; with it they don't."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from dbdzoo.data import ComposedDataset, build_transform, seed_transforms, seed_worker


class Constant(Dataset):
    """Eight copies of one image: any difference between outputs comes from augmentation."""

    def __init__(self):
        self.transform = build_transform("dmenet", 8, seed=0)
        self.image = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return self.transform({"image": self.image, "mask": np.zeros((24, 24), np.float32)})["image"]


def _run(worker_init_fn, seed, epochs=2):
    loader = DataLoader(
        Constant(),
        batch_size=1,
        num_workers=2,
        worker_init_fn=worker_init_fn,
        generator=torch.Generator().manual_seed(seed),
    )
    return [[x[0] for x in loader] for _ in range(epochs)]


def test_trap_exists_without_seed_worker():
    (epoch1, epoch2) = _run(None, 0)
    # batches alternate between workers: worker 0 yields items 0, 2, ..., worker 1 yields 1, 3, ...
    assert all(torch.equal(epoch1[2 * k], epoch1[2 * k + 1]) for k in range(4))
    assert all(torch.equal(a, b) for a, b in zip(epoch1, epoch2, strict=True))


def test_seed_worker_differs_across_workers_and_epochs_and_reproduces():
    epoch1, epoch2 = _run(seed_worker, 0)
    assert not all(torch.equal(epoch1[2 * k], epoch1[2 * k + 1]) for k in range(4))
    assert not all(torch.equal(a, b) for a, b in zip(epoch1, epoch2, strict=True))
    again = _run(seed_worker, 0)
    assert all(torch.equal(a, b) for a, b in zip(epoch1 + epoch2, again[0] + again[1], strict=True))


def test_seed_transforms_reaches_composed_parts():
    a, b = Constant(), Constant()
    assert seed_transforms(ComposedDataset({"a": a, "b": b}), 1) == 2
    assert not torch.equal(a[0], b[0])  # distinct offsets: parts do not mirror each other
    shared = Constant()
    c = Constant()
    c.transform = shared.transform
    assert seed_transforms(ComposedDataset({"a": shared, "c": c}), 1) == 1
