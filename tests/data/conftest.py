"""Builders for miniature on-disk copies of every benchmark layout (tiny images, real names)."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_helpers import H, W, half_mask, rgb, save_gt, save_rgb  # noqa: F401  (shared with test modules)

from dbdzoo.data import load_split_list


@pytest.fixture
def cuhk_root(tmp_path: Path) -> Path:
    """CUHK: the 100 BTBNet test stems, 6 training stems, 2 motion images; .JPG where CUHK has it."""
    root = tmp_path / "CUHK"
    upper = {
        "out_of_focus0026",
        "out_of_focus0027",
        "out_of_focus0028",
        "out_of_focus0099",
        "out_of_focus0103",
    }
    train = [f"out_of_focus{n:04d}" for n in (1, 2, 3, 80, 88, 704)]
    stems = list(load_split_list("cuhk_btbnet_test")) + train + ["motion0001", "motion0296"]
    for i, stem in enumerate(stems):
        ext = ".JPG" if stem in upper or stem == "out_of_focus0080" else ".jpg"
        save_rgb(root / "image" / f"{stem}{ext}", rgb(i))
        save_gt(
            root / "gt" / f"{stem}.png",
            half_mask(),
            mode="RGBA" if i % 7 == 0 else "P" if i % 11 == 0 else "L",
        )
    return root
