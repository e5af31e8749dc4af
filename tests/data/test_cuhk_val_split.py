"""The shipped CUHK-TR-1 validation split (scheme btbnet_val80): disjoint, fixed, and enforced."""

from __future__ import annotations

import pytest
from data_helpers import half_mask, rgb, save_gt, save_rgb

from dbdzoo.data import DataError, create_dataset, load_split_list


def test_val_list_is_80_train_images_without_the_inverted_pair():
    val = load_split_list("cuhk_btbnet_val80")
    test = set(load_split_list("cuhk_btbnet_test"))
    assert len(val) == len(set(val)) == 80
    assert not set(val) & test  # carved from CUHK-TR-1 only
    assert "out_of_focus0508" not in val and "out_of_focus0509" not in val
    assert list(val) == sorted(val) and val[0] == "out_of_focus0032"


@pytest.fixture
def tr1_root(tmp_path):
    """A CUHK-TR-1 layout (as ../shared/data/cuhk-tr1): the 80 val images plus three more train images."""
    root = tmp_path / "cuhk-tr1"
    stems = [
        *load_split_list("cuhk_btbnet_val80"),
        "out_of_focus0001",
        "out_of_focus0508",
        "out_of_focus0509",
    ]
    for i, stem in enumerate(stems):
        save_rgb(root / "image" / f"{stem}.jpg", rgb(i))
        save_gt(root / "gt" / f"{stem}.png", half_mask())
    return root


def test_val_and_train_partition_the_train_images(tr1_root):
    val = create_dataset("cuhk", tr1_root, split="val", scheme="btbnet_val80")
    train = create_dataset("cuhk", tr1_root, split="train", scheme="btbnet_val80")
    assert [s.name for s in val.samples] == list(load_split_list("cuhk_btbnet_val80"))
    assert sorted(s.name for s in train.samples) == [
        "out_of_focus0001",
        "out_of_focus0508",
        "out_of_focus0509",
    ]
    plain = create_dataset("cuhk", tr1_root, split="train", scheme="btbnet")
    assert len(plain) == 83  # the BTBNet scheme still trains on every non-test image


def test_val_needs_the_val_scheme_and_every_listed_image(tr1_root):
    with pytest.raises(DataError, match="scheme='btbnet' has no val split; use scheme=btbnet_val80"):
        create_dataset("cuhk", tr1_root, split="val")
    (tr1_root / "image" / "out_of_focus0032.jpg").unlink()
    (tr1_root / "gt" / "out_of_focus0032.png").unlink()
    with pytest.raises(DataError, match="1 of the 80 btbnet_val80 val images are missing.*out_of_focus0032"):
        create_dataset("cuhk", tr1_root, split="val", scheme="btbnet_val80")


def test_the_documented_snippet_runs_as_written(tmp_path, monkeypatch):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text()
    snippet = doc[doc.index('(`scheme="btbnet_val80"`)') :].split("```python\n", 1)[1].split("```", 1)[0]
    root = tmp_path / "data" / "CUHK"
    for i, stem in enumerate([*load_split_list("cuhk_btbnet_val80"), "out_of_focus0001"]):
        save_rgb(root / "image" / f"{stem}.jpg", rgb(i))
        save_gt(root / "gt" / f"{stem}.png", half_mask())
    monkeypatch.chdir(tmp_path)
    scope = {"create_dataset": create_dataset}
    exec(snippet, scope)  # noqa: S102
    assert len(scope["val"]) == 80 and len(scope["train"]) == 1
