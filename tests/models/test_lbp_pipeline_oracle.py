"""LBP end to end: dbdzoo's final map equals the authors' own ``demo.m`` pipeline, run in GNU Octave.

``lbp_pipeline_reference.json`` holds ``demo.m``'s ``final_map`` (sampled every 4th pixel on the synthetic
images of ``lbp_cases.pipeline_cases()``, every 16th on two CUHK-TR-1 photos) from the authors' unmodified
MATLAB code; ``make_lbp_pipeline_reference.py`` regenerates it (it needs Octave and a checkout of their
code). Every step is checked on its own elsewhere (``test_lbp.py``, ``test_belief.py``,
``test_matting_pyramid.py``); this is the whole chain at once, in both fusion precisions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from lbp_cases import PIPELINE_CUHK_IMAGES, pipeline_cases

import dbdzoo

REF = json.loads(Path(__file__).with_name("lbp_pipeline_reference.json").read_text())
SHARED = Path(__file__).resolve().parents[2] / "../shared"
#: measured on the samples: synthetic ≤ 3e-7 (fp32) and 7e-7 (fp64), CUHK ≤ 9e-8 and 3e-8; the fusion's stop and the
#: sparse solvers' rounding (SuperLU here, CHOLMOD in Octave) differ at that level
ATOL = {"synthetic": 5e-6, "cuhk": 2e-6}


def _final_map(rgb: np.ndarray, precision: str) -> np.ndarray:
    """``in_focus`` (1 = sharp, the authors' polarity) on the RGB image as the predict path feeds it."""
    model = dbdzoo.create_model("lbp", bp_precision=precision)
    x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].float() / 255
    return model.in_focus(x)[0, 0].double().numpy()


def _check(final: np.ndarray, ref: dict, atol: float) -> None:
    assert list(final.shape) == ref["shape"]
    s = ref["stride"]
    np.testing.assert_allclose(final[::s, ::s], np.array(ref["samples"]), rtol=0, atol=atol)
    assert abs(final.mean() - ref["mean"]) < atol / 5


@pytest.mark.parametrize("precision", ["fp32", "fp64"])
@pytest.mark.parametrize("name", sorted(pipeline_cases()))
def test_final_map_equals_the_authors_demo(name: str, precision: str) -> None:
    _check(_final_map(pipeline_cases()[name], precision), REF["synthetic"][name], ATOL["synthetic"])


def test_the_synthetic_cases_are_not_trivial() -> None:
    """Both states present in every reference map, so that a constant map cannot pass."""
    for ref in REF["synthetic"].values():
        samples = np.array(ref["samples"])
        assert samples.min() < 0.1 and samples.max() > 0.9


@pytest.mark.parametrize("precision", ["fp32", "fp64"])
@pytest.mark.parametrize("name", PIPELINE_CUHK_IMAGES)
def test_cuhk_photo_equals_the_authors_demo(name: str, precision: str, tmp_path) -> None:
    src = SHARED / "data/cuhk-tr1/image" / f"{name}.jpg"
    if not src.is_file() or name not in REF["cuhk"]:
        pytest.skip("needs ../shared/data/cuhk-tr1 (development data, not in the repository)")
    from PIL import Image

    (tmp_path / src.name).write_bytes(src.read_bytes())
    rgb = np.asarray(Image.open(tmp_path / src.name).convert("RGB"))
    _check(_final_map(rgb, precision), REF["cuhk"][name], ATOL["cuhk"])
