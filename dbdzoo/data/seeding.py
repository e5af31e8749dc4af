"""Per-worker seeding of the augmentation RNG (the albumentations 2.0.8 worker trap).

albumentations keeps its RNG inside ``Compose``; DataLoader workers receive copies of it, so without
re-seeding every worker, and every epoch of non-persistent workers, replays the same augmentations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch


def iter_transforms(dataset: Any) -> Iterator[Any]:
    """Yield every distinct seedable transform inside ``dataset`` (through Concat/Subset/wrappers)."""
    seen: set[int] = set()
    stack = [dataset]
    while stack:
        ds = stack.pop()
        if id(ds) in seen:
            continue
        seen.add(id(ds))
        tf = getattr(ds, "transform", None)
        if tf is not None and hasattr(tf, "set_random_seed") and id(tf) not in seen:
            seen.add(id(tf))
            yield tf
        children = list(getattr(ds, "datasets", ()) or ())
        inner = getattr(ds, "dataset", None)
        if inner is not None:
            children.append(inner)
        stack.extend(reversed(children))


def seed_transforms(dataset: Any, seed: int) -> int:
    """Seed every transform in ``dataset`` from ``seed`` (distinct offsets per transform); returns the count."""
    n = 0
    for n, tf in enumerate(iter_transforms(dataset), start=1):
        tf.set_random_seed((int(seed) + 1_000_003 * (n - 1)) % 2**32)
    return n


def seed_worker(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=seed_worker)``: re-seed the worker's augmentations from torch.

    ``torch.initial_seed()`` in a worker is ``base_seed + worker_id``, and ``base_seed`` is drawn from the
    loader's ``generator`` every epoch: workers differ, epochs differ, and a seeded generator reproduces a run.
    """
    info = torch.utils.data.get_worker_info()
    if info is None:
        return
    seed_transforms(info.dataset, torch.initial_seed() % 2**32)
