"""Every registered network exports to ONNX with dynamic batch, height and width, matching eager."""

from __future__ import annotations

import pytest

import dbdzoo
from dbdzoo.bench.tiny import tiny_overrides
from dbdzoo.cli import main


def _networks() -> list[str]:
    """Learned networks only: classical methods (``trainable = False``, no parameters) are not exported."""
    from dbdzoo.models import MODELS
    from dbdzoo.registry import returned_class

    return [n for n in dbdzoo.list_models() if getattr(returned_class(MODELS.get(n)), "trainable", True)]


@pytest.mark.export
@pytest.mark.parametrize("name", _networks())
def test_onnx_export_is_dynamic_and_matches_eager(name: str, tmp_path, capsys) -> None:
    folder = tmp_path / name
    dbdzoo.hub.save_pretrained(dbdzoo.create_model(name, **tiny_overrides(name)).eval(), folder)
    out = tmp_path / f"{name}.onnx"
    code = main(["export", "--model", str(folder), "--format", "onnx", "--out", str(out), "--height", "64",
                 "--width", "64", "--check"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert "check passed" in err and "dynamic height/width failed" not in err  # H and W stayed dynamic
