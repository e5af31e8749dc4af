"""Large photos run at the weights' working scale (issue 22): CLI, ``model.predict``, eval's ModelSource.

The network's input size is observed by wrapping ``predict_tensor``; the written map must still have the
photo's own (EXIF-upright) size. Also: atomic map writes, the ``--out`` lock and piped progress lines.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dbdzoo.models.fpn  # noqa: F401  (registers fpn)
from dbdzoo import create_model
from dbdzoo.cli import main
from dbdzoo.cli.predict_io import OutputLock
from dbdzoo.engine.eval.sources import ModelSource
from dbdzoo.hub import save_pretrained
from dbdzoo.models.base import DBDModel
from dbdzoo.models.scale import batch_limit, working_size
from dbdzoo.progress import ProgressLog


@pytest.fixture
def seen(monkeypatch):
    """Shapes of every batch the network receives."""
    shapes: list[tuple[int, ...]] = []
    original = DBDModel.predict_tensor

    def spy(self, x, *args, **kwargs):
        shapes.append(tuple(x.shape))
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(DBDModel, "predict_tensor", spy)
    return shapes


def _photo(path, h: int, w: int, exif_turn: bool = False) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    exif = Image.Exif()
    if exif_turn:
        exif[0x0112] = 6  # stored w×h, shown turned: h and w swap
    Image.fromarray(rgb).save(path, quality=90, exif=exif.tobytes())


def test_released_weights_run_a_large_photo_at_640_and_write_a_full_size_map(tmp_path, seen, capsys):
    _photo(tmp_path / "cam.jpg", 1200, 2000, exif_turn=True)  # shown 2000 high × 1200 wide
    assert (
        main(["predict", str(tmp_path / "cam.jpg"), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    )
    assert max(seen[0][-2:]) == 640
    blur = np.asarray(Image.open(tmp_path / "out" / "cam_blur.png"))
    assert blur.shape == (2000, 1200)
    assert "long side ≤ 640" in capsys.readouterr().err
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temp or lock file


def test_native_and_max_side_flags_choose_the_scale(tmp_path, seen):
    _photo(tmp_path / "p.jpg", 300, 400)
    folder = tmp_path / "tiny"
    save_pretrained(create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval(), folder)
    common = [str(tmp_path / "p.jpg"), "--model", str(folder), "--device", "cpu"]
    assert main(["predict", *common, "--out", str(tmp_path / "a"), "--max-side", "100"]) == 0
    assert seen[-1][-2:] == (75, 100)
    assert main(["predict", *common, "--out", str(tmp_path / "b"), "--native"]) == 0
    assert seen[-1][-2:] == (300, 400)
    assert np.asarray(Image.open(tmp_path / "a" / "p_blur.png")).shape == (300, 400)


def test_model_predict_and_model_source_follow_working_max_side(seen):
    model = create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()
    model.working_max_side = 64
    image = np.random.default_rng(1).integers(0, 256, (150, 200, 3), dtype=np.uint8)
    assert model.predict(image).shape == (150, 200) and seen[-1][-2:] == (48, 64)
    assert model.predict(image, max_side=None).shape == (150, 200) and seen[-1][-2:] == (150, 200)
    source = ModelSource(model, {"max_side": "auto"}, torch.device("cpu"))
    (pred,) = source.predict([{"image": image, "meta": {"name": "x"}}])
    assert pred.prob.shape == (1, 1, 150, 200) and seen[-1][-2:] == (48, 64)
    native = ModelSource(model, {"max_side": None}, torch.device("cpu"))
    native.predict([{"image": image, "meta": {"name": "x"}}])
    assert seen[-1][-2:] == (150, 200)


def test_a_second_predict_into_a_locked_out_folder_is_refused(tmp_path, capsys):
    _photo(tmp_path / "p.jpg", 40, 60)
    out = tmp_path / "out"
    with OutputLock(out):
        assert main(["predict", str(tmp_path / "p.jpg"), "--out", str(out), "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "another dbdzoo predict" in err[-1] and not (out / "p_blur.png").exists()


def test_a_failed_write_leaves_no_partial_map(tmp_path, monkeypatch):
    _photo(tmp_path / "p.jpg", 40, 60)
    out = tmp_path / "out"

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)  # Pillow's PNG writer
    monkeypatch.setattr(Path, "write_bytes", broken_save)  # fast_png's (8-bit maps)
    assert main(["predict", str(tmp_path / "p.jpg"), "--out", str(out), "--device", "cpu"]) == 1
    assert list(out.iterdir()) == []  # neither a torn p_blur.png nor a temp file nor the lock


def test_progress_lines_when_stderr_is_piped():
    now = [0.0]
    stream = io.StringIO()  # isatty() is False, like a pipe or a log file
    log = ProgressLog(10, "dbdzoo predict", interval=5.0, stream=stream, clock=lambda: now[0])
    log.update(2)
    assert stream.getvalue() == ""  # nothing before the first interval
    now[0] = 6.0
    log.update(1)
    assert stream.getvalue().strip() == "dbdzoo predict: 3/10 img, 0.5 img/s, ~14 s left"
    log.close()
    assert len(stream.getvalue().splitlines()) == 2


def test_batches_are_capped_by_memory_and_sizes_by_the_long_side():
    assert working_size(4000, 6000, 640) == (427, 640) and working_size(400, 600, 640) == (400, 600)
    assert batch_limit(427 * 640, 4) == 4
    assert batch_limit(4000 * 6000, 4) == 1  # a native 24 MP photo runs alone
