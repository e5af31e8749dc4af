"""Split lists shipped as package data (``dbdzoo/data/splits/*.txt``)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from .io import DataError


@cache
def load_split_list(name: str) -> tuple[str, ...]:
    """Stems listed in ``splits/<name>.txt``, in file order (for ``cuhk_btbnet_test``: Zhao number order)."""
    path = resources.files("dbdzoo.data").joinpath("splits", f"{name}.txt")
    if not path.is_file():
        raise DataError(f"split list {name!r} is not shipped with dbdzoo (looked for splits/{name}.txt)")
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def zhao_number_to_cuhk() -> dict[int, str]:
    """Zhao-lab 320x320 number n (``xu100-*/n.bmp``) -> native CUHK stem, to map 320 results back."""
    return {i + 1: stem for i, stem in enumerate(load_split_list("cuhk_btbnet_test"))}
