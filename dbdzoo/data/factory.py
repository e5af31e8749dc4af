"""``create_dataset`` / ``list_datasets``: registry lookup and ``a+b`` composition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch.utils.data import ConcatDataset, Dataset

from ..registry import accepted_options
from .base import DATASETS
from .io import DataError

RootSpec = str | Path | Sequence[str | Path] | Mapping[str, str | Path] | None


class ComposedDataset(ConcatDataset):
    """Concatenation of named parts (``cuhk+dut``); ``parts`` maps each name to its dataset."""

    def __init__(self, parts: dict[str, Dataset]) -> None:
        super().__init__(list(parts.values()))
        self.parts = parts

    def __repr__(self) -> str:
        return f"ComposedDataset({', '.join(f'{k}: {len(v)}' for k, v in self.parts.items())})"


def list_datasets(pattern: str = "*") -> list[str]:
    """Registered dataset names matching an fnmatch ``pattern``."""
    return DATASETS.names(pattern)


def create_dataset(
    name: str, root: RootSpec = None, split: str = "train", transform: Any = None, **kwargs: Any
) -> Dataset:
    """Build a registered dataset, or a composition such as ``"cuhk+dut"`` (the 1204-image training set).

    Args:
        name: a registered name or names joined by ``+``; every part gets the same split and transform.
        root: the dataset folder; for compositions a mapping ``{part: folder}``, a list in part order, or one
            parent folder in which each reader finds its usual sub-folder (``CUHK/``, ``DUT-DBD_Dataset/`` ...).
        split: ``train``/``test``/``all`` (readers list what they offer).
        transform: callable on item dicts, usually ``build_transform(...)``.
        **kwargs: reader options; in a composition each option goes to the parts that accept it, and an
            option no part accepts is an error (typos never pass silently).
    """
    parts = [p.strip() for p in name.split("+") if p.strip()]
    if not parts:
        raise DataError(f"dataset name {name!r} is empty")
    if len(parts) == 1:
        factory = DATASETS.get(parts[0])
        return factory(root=_root_for(root, parts[0], 0), split=split, transform=transform, **kwargs)
    accepted = {p: accepted_options(DATASETS.get(p)) for p in parts}
    unknown = [k for k in kwargs if all(a is not None and k not in a for a in accepted.values())]
    if unknown:
        raise DataError(
            f"create_dataset({name!r}): option(s) {', '.join(unknown)} accepted by none of {parts}"
        )
    built: dict[str, Dataset] = {}
    for i, part in enumerate(parts):
        kw = {k: v for k, v in kwargs.items() if accepted[part] is None or k in accepted[part]}
        built[part] = DATASETS.get(part)(
            root=_root_for(root, part, i), split=split, transform=transform, **kw
        )
    return ComposedDataset(built)


def _root_for(root: RootSpec, part: str, index: int) -> str | Path | None:
    if root is None or isinstance(root, str | Path):
        return root
    if isinstance(root, Mapping):
        if part not in root:
            raise DataError(f"root mapping has no entry for {part!r} (keys: {', '.join(map(str, root))})")
        return root[part]
    roots = list(root)
    if index >= len(roots):
        raise DataError(f"root list has {len(roots)} entries but the composition needs one for {part!r}")
    return roots[index]
