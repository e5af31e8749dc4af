"""Batch collation that keeps ``meta`` as a list of per-item dicts."""

from __future__ import annotations

from typing import Any

from torch.utils.data import default_collate


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """``DataLoader(collate_fn=collate)``: stack tensors, keep ``meta`` as one dict per item.

    ``default_collate`` would turn ``meta["orig_size"]`` tuples into a pair of tensors (all heights, all
    widths), which is awkward when resizing predictions back to each image's native size.
    """
    metas = [item.get("meta", {}) for item in batch]
    out = default_collate([{k: v for k, v in item.items() if k != "meta"} for item in batch])
    out["meta"] = metas
    return out
