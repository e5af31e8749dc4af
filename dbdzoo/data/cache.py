"""``data.cache=ram``: decoded images and maps kept in one shared-memory buffer, before the random transform.

Decoding a CUHK JPEG and its PNG costs more than the whole augmentation, and the set is read every epoch:
decoding it once makes each epoch cost only the transform. The decoded arrays are packed into a single
uint8 tensor in shared memory, filled in the main process before the DataLoader workers start, so every
worker reads the same pages (fork shares them, spawn passes one handle) instead of holding its own copy.
Items are cached *before* the transform, so augmentations stay random; a cached item is bit-identical to
a decoded one (binary float masks are stored as uint8 and restored exactly).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from .base import ReaderBase
from .factory import ComposedDataset
from .io import DataError

#: share of the available memory the cache may take (workers, prefetched batches and the model need the rest)
MEMORY_SHARE = 0.5


def available_memory() -> int:
    """Bytes the system can give without swapping: psutil, else /proc/meminfo, else sysconf."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def readers_of(dataset: Dataset) -> list[ReaderBase]:
    """The file readers a cacheable dataset is made of; anything else cannot be cached."""
    if isinstance(dataset, ReaderBase):
        return [dataset]
    if isinstance(dataset, ComposedDataset):
        return [r for part in dataset.parts.values() for r in readers_of(part)]
    raise DataError(
        f"ram cache: {type(dataset).__name__} does not decode files (only dataset readers such as cuhk, "
        "dut or folder, and their compositions, can be cached)"
    )


def estimate_bytes(dataset: Dataset) -> int:
    """Decoded bytes of the whole set: the first item's bytes per pixel × every image's header size."""
    total = 0
    for reader in readers_of(dataset):
        item = reader.decoded(0)
        first = sum(a.nbytes for a in _pack_arrays(item).values())
        per_px = first / max(1, int(np.prod(np.shape(item["image"])[:2])))
        for sample in reader.samples:
            px = _pixels(sample.image)
            total += int(per_px * px) if px else first
    return total


def check_fits(dataset: Dataset, copies: int = 1, where: str = "data.cache=ram") -> int:
    """Raise when ``copies`` caches of ``dataset`` would take more than ``MEMORY_SHARE`` of free memory."""
    need = estimate_bytes(dataset) * copies
    free = available_memory()
    if need > MEMORY_SHARE * free:
        raise DataError(
            f"{where}: the decoded training set needs ~{need / 2**30:.2f} GiB"
            f"{f' ({copies} ranks)' if copies > 1 else ''} but only {free / 2**30:.2f} GiB of memory is "
            f"available (the cache may take {MEMORY_SHARE:.0%}); use data.cache=none"
        )
    return need


def _pixels(path: Path) -> int:
    try:
        with Image.open(path) as im:  # reads the header only
            return int(im.size[0] * im.size[1])
    except Exception:  # not an image PIL reads lazily (e.g. .npy): fall back to the first item's size
        return 0


def _pack_arrays(item: dict[str, Any]) -> dict[str, np.ndarray]:
    """The item's arrays in compact form: binary float32 maps as uint8 (restored exactly on read)."""
    out = {}
    for key, value in item.items():
        if isinstance(value, torch.Tensor):
            value = value.numpy()
        if not isinstance(value, np.ndarray):
            continue
        if value.dtype == np.float32 and bool(np.isin(value, (0.0, 1.0)).all()):
            value = value.astype(np.uint8)
            out[f"{key}:binary"] = value
        else:
            out[key] = np.ascontiguousarray(value)
    return out


class _Decode(Dataset):
    """Decoded, packed items of one reader (what the fill loader's workers return)."""

    def __init__(self, reader: ReaderBase) -> None:
        self.reader = reader

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        item = self.reader.decoded(index)
        arrays = _pack_arrays(item)
        plain = {k: v for k, v in item.items() if not isinstance(v, np.ndarray | torch.Tensor)}
        return arrays, plain


def _as_is(item: Any) -> Any:
    return item


class DecodedCache:
    """Every item of one reader, packed in one shared uint8 tensor plus a small index."""

    def __init__(self, reader: ReaderBase, workers: int = 0) -> None:
        source = _Decode(reader)
        items = (
            DataLoader(source, batch_size=None, num_workers=workers, collate_fn=_as_is)
            if workers > 0
            else (source[i] for i in range(len(source)))
        )
        packed, self.plain = [], []
        for arrays, plain in items:
            packed.append(arrays)
            self.plain.append(plain)
        total = sum(a.nbytes for arrays in packed for a in arrays.values())
        self.buffer = torch.empty(max(1, total), dtype=torch.uint8).share_memory_()
        flat, offset, self.index = self.buffer.numpy(), 0, []
        for arrays in packed:
            entry = {}
            for key, a in arrays.items():
                flat[offset : offset + a.nbytes] = a.reshape(-1).view(np.uint8)
                entry[key] = (offset, a.shape, a.dtype.str)
                offset += a.nbytes
            self.index.append(entry)
            arrays.clear()  # frees the decoded copy as the shared one fills
        self.nbytes = total

    def __len__(self) -> int:
        return len(self.index)

    def item(self, index: int) -> dict[str, Any]:
        """A fresh copy of decoded item ``index`` (transforms may write into what they get)."""
        flat = self.buffer.numpy()
        out: dict[str, Any] = {}
        for key, (offset, shape, dtype) in self.index[index].items():
            n = int(np.prod(shape)) * np.dtype(dtype).itemsize
            a = flat[offset : offset + n].view(dtype).reshape(shape)
            name, _, binary = key.partition(":")
            out[name] = a.astype(np.float32) if binary else a.copy()
        for key, value in self.plain[index].items():
            out[key] = dict(value) if isinstance(value, dict) else value
        return out


class CachedReader(Dataset):
    """A reader whose decoded items come from a ``DecodedCache``; its transform still runs per item.

    ``dataset`` names the reader so ``seed_transforms`` finds (and re-seeds) its transform as before.
    """

    def __init__(self, reader: ReaderBase, workers: int = 0) -> None:
        self.dataset = reader
        self.cache = DecodedCache(reader, workers)

    def __len__(self) -> int:
        return len(self.cache)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.cache.item(index)
        tf = self.dataset.transform
        return tf(item) if tf is not None else item


def with_ram_cache(dataset: Dataset, workers: int = 0) -> Dataset:
    """``dataset`` with every reader in it served from RAM (compositions keep their parts and order)."""
    if isinstance(dataset, ReaderBase):
        return CachedReader(dataset, workers)
    if isinstance(dataset, ComposedDataset):
        return ComposedDataset({k: with_ram_cache(v, workers) for k, v in dataset.parts.items()})
    readers_of(dataset)  # raises the explanation
    return dataset
