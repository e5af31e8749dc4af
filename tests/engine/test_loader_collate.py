"""The training/validation loader collates ``meta`` per key over all items, so mixed datasets load."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from dbdzoo.data import collate
from dbdzoo.engine.loaders import make_loader


class MixedMeta(Dataset):
    """Like ``cuhk+dut``: some items carry an extra meta key (sometimes ``None``), others do not."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        meta = {"name": f"img{i}", "orig_size": (10 + i, 12)}
        if i % 2 == 0:
            meta["cuhk_name"] = None if i == 2 else "motion0001"
        return {"image": torch.full((3, 4, 4), float(i)), "mask": torch.zeros(1, 4, 4), "meta": meta}


def test_make_loader_collates_mixed_meta():
    loader, _ = make_loader(MixedMeta(), batch_size=4, shuffle=False, seed=0, rank=0, world_size=1,
                            num_workers=0, pin_memory=False, train=False)  # fmt: skip
    batch = next(iter(loader))  # default_collate raised KeyError('cuhk_name') / TypeError on None
    assert batch["image"].shape == (4, 3, 4, 4) and batch["mask"].shape == (4, 1, 4, 4)
    meta = batch["meta"]
    assert meta["name"] == ["img0", "img1", "img2", "img3"]  # what validation passes as names
    assert meta["orig_size"] == [(10, 12), (11, 12), (12, 12), (13, 12)]  # tuples, not tensors
    assert meta["cuhk_name"] == ["motion0001", None, None, None]


def test_collate_without_meta():
    batch = collate([{"image": torch.zeros(3, 2, 2)}, {"image": torch.ones(3, 2, 2)}])
    assert set(batch) == {"image"} and batch["image"].shape == (2, 3, 2, 2)
