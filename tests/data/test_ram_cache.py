"""``data.cache=ram``: cached items equal decoded ones, augmentation stays random, one shared copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import save_gt, save_rgb
from torch.utils.data import DataLoader

from dbdzoo.data import DataError, build_transform, create_dataset, seed_transforms
from dbdzoo.data.cache import CachedReader, check_fits, estimate_bytes, with_ram_cache

SIZES = [(40, 56), (56, 40), (48, 48), (44, 60)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(SIZES):
        save_rgb(tmp_path / "images" / f"s{i}.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        save_gt(tmp_path / "masks" / f"s{i}.png", ((rng.random((h, w)) > 0.5) * 255).astype(np.uint8))
    return tmp_path


def _as_list(items: list) -> list:
    return items  # module level: picklable for spawn/forkserver workers


def _reader(folder: Path, transform=None, **kw):
    return create_dataset("folder", root=str(folder), split="all", positive="blur", transform=transform, **kw)


def test_cached_items_equal_decoded_items_and_are_fresh_copies(folder) -> None:
    reader = _reader(folder)
    cached = with_ram_cache(reader)
    assert isinstance(cached, CachedReader) and len(cached) == len(reader)
    for i in range(len(reader)):
        a, b = reader[i], cached[i]
        assert a["meta"] == b["meta"] and set(a) == set(b)
        for key in ("image", "mask"):
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
    cached[0]["image"][:] = 0  # a transform writing into its input must not change the cache
    assert np.array_equal(cached[0]["image"], reader[0]["image"])
    # binary float masks are stored as one byte per pixel
    assert cached.cache.nbytes == sum(h * w * 3 + h * w for h, w in SIZES)


def test_augmentation_stays_random_and_matches_the_uncached_pipeline(folder) -> None:
    reader = _reader(folder, build_transform("br2net", size=24, rotate=10))
    cached = with_ram_cache(_reader(folder, build_transform("br2net", size=24, rotate=10)))
    outs = []
    for seed in (1, 2):
        seed_transforms(reader, seed)
        seed_transforms(cached, seed)  # reaches the reader's transform through the cache wrapper
        a, b = reader[0], cached[0]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["mask"], b["mask"])
        outs.append(b["image"])
    assert not torch.equal(outs[0], outs[1])  # cached before the transform: augmentations differ by seed


def test_one_shared_buffer_filled_before_the_loader_workers_start(folder) -> None:
    serial = with_ram_cache(_reader(folder))
    parallel = with_ram_cache(_reader(folder), workers=2)  # decoded by a throwaway pool, packed here
    assert torch.equal(serial.cache.buffer, parallel.cache.buffer)
    assert parallel.cache.buffer.is_shared()  # spawned workers get a handle, forked ones the same pages
    for path in folder.rglob("*.png"):
        path.unlink()  # from now on a worker that decoded (or filled its own copy) would fail
    loader = DataLoader(parallel, batch_size=2, num_workers=2, collate_fn=_as_list)
    names = sorted(item["meta"]["name"] for batch in loader for item in batch)
    assert names == [f"s{i}" for i in range(len(SIZES))]


def test_estimate_and_the_memory_refusal(folder, monkeypatch) -> None:
    reader = _reader(folder)
    actual = with_ram_cache(reader).cache.nbytes
    assert 0.9 * actual <= estimate_bytes(reader) <= 1.1 * actual
    monkeypatch.setattr("dbdzoo.data.cache.available_memory", lambda: actual)  # needs more than half
    with pytest.raises(
        DataError, match=r"^config data.cache=ram: the decoded training set needs .* use data.cache=none$"
    ):
        check_fits(reader, 1, "config data.cache=ram")
    monkeypatch.setattr("dbdzoo.data.cache.available_memory", lambda: 10 * actual)
    assert check_fits(reader, 2, "x") == 2 * estimate_bytes(reader)  # every local rank holds a copy


def test_only_file_readers_can_be_cached() -> None:
    synthetic = create_dataset("synthetic", split="train", length=2, size=16)
    with pytest.raises(DataError, match="does not decode files"):
        with_ram_cache(synthetic)
