"""Batch collation for the training and validation loaders (``engine.loaders.make_loader``)."""

from __future__ import annotations

from typing import Any

from torch.utils.data import default_collate


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """``DataLoader(collate_fn=collate)``: stack tensors; ``meta`` becomes ``{key: [one value per item]}``.

    ``batch["meta"]["name"]`` is the list of image names, as with ``default_collate``, but the values
    stay as the items gave them and every key of any item is kept (``None`` where an item lacks it).
    ``default_collate`` takes the first item's keys, so a composed dataset (``cuhk+dut``: DUT items may
    carry ``cuhk_name``, CUHK items do not) raised ``KeyError``, a ``None`` value raised ``TypeError``,
    and ``orig_size`` tuples became a pair of tensors (all heights, all widths).
    """
    metas = [item.get("meta", {}) for item in batch]
    out = default_collate([{k: v for k, v in item.items() if k != "meta"} for item in batch])
    if any(metas):
        keys = dict.fromkeys(k for m in metas for k in m)
        out["meta"] = {k: [m.get(k) for m in metas] for k in keys}
    return out
