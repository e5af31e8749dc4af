"""Saved prediction maps that cannot be numbers are refused with the file named, never unpickled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dbdzoo.engine.eval.sources import read_prediction, read_sigma_prediction


def test_object_dtype_npy_names_the_file(tmp_path) -> None:
    path = tmp_path / "img001.npy"
    np.save(path, np.array([{"not": "a map"}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"img001\.npy: holds pickled/object data"):
        read_prediction(path)
    with pytest.raises(ValueError, match=r"img001\.npy: holds pickled/object data"):
        read_sigma_prediction(path)


def test_string_dtype_npy_names_the_file(tmp_path) -> None:
    path = tmp_path / "img002.npy"
    np.save(path, np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match=r"img002\.npy: dtype <U1 is not a real numeric array"):
        read_prediction(path)


def test_numeric_npy_reads_as_a_map(tmp_path) -> None:
    path = tmp_path / "img003.npy"
    np.save(path, np.full((3, 5), 0.25, dtype=np.float64))
    torch.testing.assert_close(read_prediction(path), torch.full((1, 1, 3, 5), 0.25))
