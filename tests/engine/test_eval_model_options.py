"""``model_options``: a classical method's settings reach the model from eval's config; bad ones say so."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from dbdzoo.engine import evaluate

FAST = {"bp_iterations": 3}  # a short LBP fusion: the test checks wiring, not quality


def _cfg(tmp_path: Path, **extra) -> dict:
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    img = rng.integers(0, 256, (28, 32, 3), dtype=np.uint8)
    img[:, :16] = cv2.GaussianBlur(img, (9, 9), 3)[:, :16]
    mask = np.zeros((28, 32), np.uint8)
    mask[:, :16] = 255
    cv2.imwrite(str(root / "images" / "a.png"), img)
    cv2.imwrite(str(root / "masks" / "a.png"), mask)
    return {
        "paths": {"output_dir": str(tmp_path / "run")},
        "model_ref": "lbp",
        "predictions": None,
        "datasets": {"mine": {"name": "folder", "root": str(root), "split": "all", "positive": "blur"}},
        "presets": ["ddffnet"],
        "device": "cpu",
        "plots": False,
        **extra,
    }


def test_model_options_build_the_method_and_are_recorded(tmp_path) -> None:
    results = {}
    for code in ("matlab", "python"):
        cfg = _cfg(tmp_path / code, model_options={"code": code, **FAST})
        results[code] = evaluate(cfg)["mine"]["ddffnet"]
        record = json.loads((tmp_path / code / "run" / "results.json").read_text())["run"]["model"]
        assert record["config"] == {"name": "lbp", "code": code, **FAST}
    assert results["matlab"] != results["python"]  # the option changed the maps, not just the record


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"model_options": {"cod": "cpp"}}, "no option.*cod; did you mean code"),
        ({"model_options": "code=cpp"}, r"model_options='code=cpp': expected a mapping"),
        (
            {"model_options": {"code": "cpp"}, "model_ref": None, "predictions": "maps"},
            "applies to model_ref",
        ),
    ],
)
def test_bad_model_options_name_the_key(tmp_path, extra, message) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate(_cfg(tmp_path, **extra))
