"""Data loading for the loop: resumable per-epoch sampling, per-sample augmentation seeds, domains.

Augmentation randomness is a pure function of (seed, epoch, sample): the sampler hands each index
its own seed and the dataset view re-seeds the transform before loading it. That makes runs
reproducible regardless of worker count, resumable mid-epoch, identical between one process and
DDP with the same global batch, and different across epochs and workers (the albumentations 2.0.8
worker trap cannot occur).

The same batches make the same run only if the network sees the same batch statistics: BatchNorm
networks need ``trainer.sync_bn=true`` (``engine.syncbn``, CPU/gloo and CUDA). Then 2 gloo ranks × 2
match 1 process × 4 within 1e-6 in loss and 1.1e-5 in weights after 3 steps of the default FPN
(``tests/engine/test_distributed.py``); with per-rank statistics the loss differed by 5e-2 and the
weights by 5e-3.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 32-bit seed per (run seed, epoch, sample index)."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1_000_033 + index)
    return int(torch.randint(0, 2**31 - 1, (1,), generator=g))


class SeededView(Dataset):
    """Wraps a dataset so that ``view[(index, seed)]`` loads ``index`` with its transform seeded."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int] | int) -> Any:
        index, seed = key if isinstance(key, tuple) else (key, key)
        self._reseed(seed)
        return self.dataset[index]

    def _reseed(self, seed: int) -> None:
        from ..data import seed_transforms

        seed_transforms(self.dataset, seed)


class EpochSampler(Sampler):
    """Per-epoch permutation from ``seed + epoch``, split across ranks, resumable at an offset.

    Rank ``r`` of ``w`` takes positions ``r, r + w, ...`` of the permutation, so the union of the
    ranks' k-th batches is exactly the single-process k-th batch of ``w``× the size.
    """

    def __init__(
        self, n: int, *, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1, drop_last: bool = True
    ) -> None:
        if n == 0:
            raise ValueError("the dataset is empty: nothing to sample")
        self.n, self.shuffle, self.seed = n, shuffle, seed
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch's permutation and skip the first ``start`` samples of this rank."""
        self.epoch, self.start = epoch, start

    def _indices(self) -> list[int]:
        if self.shuffle:
            perm = torch.randperm(
                self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch)
            ).tolist()
        else:
            perm = list(range(self.n))
        if self.drop_last:
            perm = perm[: self.n - self.n % self.world_size]
        return perm[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for i in self._indices()[self.start :]:
            yield i, sample_seed(self.seed, self.epoch, i)

    def __len__(self) -> int:
        return max(0, len(self._indices()) - self.start)


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    rank: int,
    world_size: int,
    num_workers: int,
    pin_memory: bool,
    train: bool,
) -> tuple[DataLoader, EpochSampler]:
    """A DataLoader over ``SeededView(dataset)`` with an ``EpochSampler`` (``meta`` via ``data.collate``)."""
    from ..data import collate, seed_worker

    sampler = EpochSampler(
        len(dataset), shuffle=shuffle, seed=seed, rank=rank, world_size=world_size, drop_last=train
    )
    loader = DataLoader(
        SeededView(dataset),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=train,
        worker_init_fn=seed_worker,
        collate_fn=collate,
    )
    return loader, sampler


class BatchStream:
    """Endless training batches positioned by the number of micro-batches already consumed."""

    def __init__(self, loader: DataLoader, sampler: EpochSampler) -> None:
        self.loader, self.sampler = loader, sampler
        self.batch_size = loader.batch_size or 1
        self.steps_per_epoch = len(sampler) // self.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"the training set yields {len(sampler)} samples per rank, fewer than one batch of {self.batch_size}"
            )

    def iterate(self, consumed: int) -> Iterator[tuple[int, Any]]:
        epoch, offset = divmod(consumed, self.steps_per_epoch)
        while True:
            self.sampler.set_epoch(epoch, start=offset * self.batch_size)
            for batch in self.loader:
                yield epoch, batch
            epoch, offset = epoch + 1, 0


def domain_batches(streams: dict[str, BatchStream], consumed: int) -> Iterator[tuple[int, dict[str, Any]]]:
    """Zip several domains' streams (DMENet); the epoch is the first domain's."""
    iters = {k: s.iterate(consumed) for k, s in streams.items()}
    first = next(iter(iters))
    while True:
        items = {k: next(it) for k, it in iters.items()}
        yield items[first][0], {k: v[1] for k, v in items.items()}


def to_device(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    """Move tensors (recursively through dicts/lists) to ``device``; images optionally channels-last."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.ndim == 4 and batch.shape[1] == 3:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, list):
        return [to_device(v, device, channels_last) for v in batch]
    return batch


def batch_size_of(batch: Any) -> int:
    """Images in a batch, summed over domains for multi-domain batches."""
    if isinstance(batch, dict) and "image" in batch:
        return int(batch["image"].shape[0])
    return sum(batch_size_of(v) for v in batch.values()) if isinstance(batch, dict) else 0
