"""Data loading for the loop: endless resumable sampling, per-sample augmentation seeds, domains.

Augmentation randomness is a pure function of (seed, epoch, sample): the sampler hands each index
its own seed and the dataset view re-seeds the transform before loading it. That makes runs
reproducible regardless of worker count, resumable mid-epoch, identical between one process and
DDP with the same global batch, and different across epochs and workers (the albumentations 2.0.8
worker trap cannot occur).

Training reads one endless stream (``StreamSampler``, ``BatchStream``): a single DataLoader iterator
whose workers run on across epoch boundaries, so a boundary costs what any step costs (on an H200 the
per-epoch loader it replaces stalled ~0.5 s at every boundary, 28× a step; docs/benchmarks.md).

The same batches make the same run only if the network sees the same batch statistics: BatchNorm
networks need ``trainer.sync_bn=true`` (``engine.syncbn``, CPU/gloo and CUDA). Then 2 gloo ranks × 2
match 1 process × 4 within 1e-6 in loss and 1.1e-5 in weights after 3 steps of the default FPN
(``tests/engine/test_distributed.py``); with per-rank statistics the loss differed by 5e-2 and the
weights by 5e-3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

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

    def indices(self, epoch: int) -> list[int]:
        """This rank's sample indices of ``epoch``, in order."""
        if self.shuffle:
            perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + epoch)).tolist()
        else:
            perm = list(range(self.n))
        if self.drop_last:
            perm = perm[: self.n - self.n % self.world_size]
        return perm[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for i in self.indices(self.epoch)[self.start :]:
            yield i, sample_seed(self.seed, self.epoch, i)

    def __len__(self) -> int:
        return max(0, len(self.indices(self.epoch)) - self.start)


class StreamSampler(Sampler):
    """``EpochSampler``'s epochs one after the other without end, each cut to whole batches.

    One endless sampler means one DataLoader iterator for the whole run: the workers never stop at an
    epoch boundary and the next epoch's first batches are decoded while the last ones of this epoch
    train, so a boundary costs no more than any step. The samples and seeds are exactly those of
    ``EpochSampler`` epoch after epoch (with each epoch's last partial batch dropped), so batches are the
    same as with one loader pass per epoch, and ``set_position`` resumes mid-epoch.
    """

    def __init__(self, epochs: EpochSampler, batch_size: int) -> None:
        self.epochs, self.batch_size = epochs, batch_size
        self.per_epoch = len(epochs.indices(0)) // batch_size * batch_size
        self.epoch, self.start = 0, 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        """Begin at sample ``start`` of ``epoch`` (read when the loader's iterator starts)."""
        self.epoch, self.start = epoch, start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, start, seed = self.epoch, self.start, self.epochs.seed
        while True:
            for i in self.epochs.indices(epoch)[start : self.per_epoch]:
                yield i, sample_seed(seed, epoch, i)
            epoch, start = epoch + 1, 0


def _prefetch(num_workers: int) -> int:
    """Batches each worker keeps ready: at least 8 in flight in all (torch's default 2 each with many)."""
    return max(2, -(-8 // num_workers))


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
        generator=torch.Generator().manual_seed(seed),  # worker seeds without drawing from the global RNG
    )
    return loader, sampler


class Stream(Protocol):
    """What the loop reads training batches from (``BatchStream``, a device renderer, a wrapped stream)."""

    batch_size: int
    steps_per_epoch: int

    def iterate(self, consumed: int) -> Iterator[tuple[int, Any]]: ...


class BatchStream:
    """Endless training batches positioned by the number of micro-batches already consumed.

    One ``DataLoader`` iterator over a ``StreamSampler`` serves every epoch; its workers persist (a second
    ``iterate`` reuses them) and keep ``prefetch_factor`` batches each in flight.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool = False,
        collate_fn: Any = None,
    ) -> None:
        from ..data import collate, seed_worker

        epochs = EpochSampler(len(dataset), shuffle=True, seed=seed, rank=rank, world_size=world_size)
        self.sampler = StreamSampler(epochs, batch_size)
        self.batch_size = batch_size
        self.steps_per_epoch = self.sampler.per_epoch // batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"the training set yields {len(epochs)} samples per rank, fewer than one batch of {batch_size}"
            )
        self.loader = DataLoader(
            SeededView(dataset),
            batch_size=batch_size,
            sampler=self.sampler,
            num_workers=num_workers,
            pin_memory=pin_memory,
            drop_last=True,
            worker_init_fn=seed_worker,
            collate_fn=collate_fn or collate,
            generator=torch.Generator().manual_seed(seed),  # worker seeds without drawing from the global RNG
            persistent_workers=num_workers > 0,
            prefetch_factor=_prefetch(num_workers) if num_workers > 0 else None,
        )

    def iterate(self, consumed: int) -> Iterator[tuple[int, Any]]:
        """(epoch, batch) pairs from micro-batch ``consumed`` on; one live ``iterate`` per stream."""
        epoch, offset = divmod(consumed, self.steps_per_epoch)
        self.sampler.set_position(epoch, offset * self.batch_size)
        left = self.steps_per_epoch - offset
        for batch in self.loader:  # never ends: the sampler is endless
            yield epoch, batch
            left -= 1
            if left == 0:
                epoch, left = epoch + 1, self.steps_per_epoch
        raise RuntimeError("the training loader ended although its sampler is endless")


class DeviceAugmentStream:
    """A stream whose batches get a recipe's random stage on ``device`` (``data.augment_on=device``)."""

    def __init__(
        self, stream: Stream, augment: Callable[[Any, torch.device], Any], device: torch.device
    ) -> None:
        self.stream, self.augment, self.device = stream, augment, device
        self.batch_size, self.steps_per_epoch = stream.batch_size, stream.steps_per_epoch

    def iterate(self, consumed: int) -> Iterator[tuple[int, Any]]:
        for epoch, batch in self.stream.iterate(consumed):
            yield epoch, to_device(self.augment(batch, self.device), self.device)


def domain_batches(streams: dict[str, Stream], consumed: int) -> Iterator[tuple[int, dict[str, Any]]]:
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
