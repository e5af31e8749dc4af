"""``dbdzoo predict --model lbp --model-option KEY=VALUE``: a classical method's settings from the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import dbdzoo
from dbdzoo.cli import main


@pytest.fixture
def photo(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (28, 36, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "p.png")
    return tmp_path / "p.png", rgb


def test_model_options_reach_the_method(photo, tmp_path) -> None:
    path, rgb = photo
    args = ["predict", str(path), "--model", "lbp", "--device", "cpu", "--native"]
    opts = [
        "--model-option",
        "code=python",
        "--model-option",
        "bp_iterations=3",
        "--model-option",
        "scales=[5, 7, 9]",
    ]
    assert main([*args, "--out", str(tmp_path / "out"), *opts]) == 0
    got = np.asarray(Image.open(tmp_path / "out" / "p_blur.png")).astype(np.float64) / 255
    want = dbdzoo.create_model("lbp", code="python", bp_iterations=3, scales=[5, 7, 9]).predict(rgb)
    assert np.abs(got - want).max() <= 0.5 / 255 + 1e-6  # YAML values: a string, an int and a list
    default = dbdzoo.create_model("lbp").predict(rgb)
    assert np.abs(default - want).max() > 1e-3  # the options changed the map


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("cod=cpp", "lbp has no option(s) cod; did you mean code?"),
        ("code", "--model-option 'code': expected KEY=VALUE"),
        ("code=fortran", "lbp code must be 'matlab', 'python' or 'cpp'"),
        ("scales=[5, 7", "--model-option 'scales=[5, 7': the value is not valid YAML"),
    ],
)
def test_bad_model_options_give_one_line(photo, tmp_path, capsys, option, message) -> None:
    path, _ = photo
    assert (
        main(["predict", str(path), "--model", "lbp", "--out", str(tmp_path / "o"), "--model-option", option])
        != 0
    )
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0], err


def test_info_lists_the_options_and_their_defaults(capsys) -> None:
    import json

    assert main(["info", "lbp", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source"] == "classical method, no weights"
    assert report["options"]["code"] == "matlab" and report["options"]["scales"] == [11, 15, 21]
    assert set(report["options"]) >= {"bp_iterations", "matting_iterations", "threshold"}
