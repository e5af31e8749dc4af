"""Nothing lost, nothing silently wrong (issue 25): finished runs, ambiguous maps, full disks, kills, one lines."""

from __future__ import annotations

import errno
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.child import run_child

from dbdzoo.engine import train
from dbdzoo.engine.checkpoint import atomic_torch_save, load_checkpoint
from dbdzoo.engine.entry import main, one_line, run_task
from dbdzoo.engine.eval.datasets import index_predictions
from dbdzoo.engine.eval.sources import FolderSource
from dbdzoo.engine.run_folder import RunFolderHasRun, remove_stale_temporaries
from dbdzoo.files import DiskFullError, atomic_write
from dbdzoo.metrics.report import write_report


# -- 25.1 a finished run is never overwritten ----------------------------------------------------------------
def test_a_finished_run_is_kept_unless_resume_or_overwrite_says_otherwise(fast_cfg, tmp_path, capsys) -> None:
    train(fast_cfg("trainer.max_steps=3", "trainer.val_every=3", "trainer.ckpt_every=3"))
    ckpt_dir = tmp_path / "run" / "checkpoints"
    before = {name: (ckpt_dir / name).read_bytes() for name in ("last.pt", "best.pt")}
    with pytest.raises(RunFolderHasRun, match=r"already holds an earlier run .*resume=auto.*overwrite=true"):
        train(fast_cfg())  # a fresh 2-step run in the same folder, no resume=
    assert {name: (ckpt_dir / name).read_bytes() for name in before} == before  # step 3 kept, best.pt too
    train(fast_cfg("overwrite=true"))
    assert load_checkpoint(ckpt_dir / "last.pt")["global_step"] == 2
    assert "overwrite=true: removed the earlier run's last.pt" in capsys.readouterr().out


# -- 25.2 eval never picks a map silently ---------------------------------------------------------------------
def _item(name: str, height: int, width: int) -> dict:
    return {"meta": {"name": name}, "mask": np.zeros((height, width), np.float32)}


def _folder_source(folder: Path) -> FolderSource:
    return FolderSource(index_predictions(folder, "none"), {"predictions": str(folder)}, torch.device("cpu"))


def test_two_candidate_maps_for_one_image_are_refused_naming_both(tmp_path) -> None:
    import cv2

    for name in ("a.png", "a_blur.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((48, 64), np.uint8))
    with pytest.raises(ValueError, match=r"ambiguous predictions for a\.jpg: .*a\.png and .*a_blur\.png"):
        _folder_source(tmp_path).predict([_item("a.jpg", 48, 64)])


def test_a_map_of_another_aspect_ratio_is_refused_but_a_scaled_one_passes(tmp_path) -> None:
    import cv2

    cv2.imwrite(str(tmp_path / "wide.png"), np.zeros((100, 640), np.uint8))
    cv2.imwrite(str(tmp_path / "half.png"), np.zeros((240, 320), np.uint8))
    source = _folder_source(tmp_path)
    with pytest.raises(
        ValueError, match=r"wide\.png: the map is 100x640 .* ground truth of wide\.jpg is 480x640"
    ):
        source.predict([_item("wide.jpg", 480, 640)])
    (pred,) = source.predict([_item("half.jpg", 480, 640)])  # same aspect ratio at half size: resized, fine
    assert pred.prob.shape[-2:] == (240, 320)


# -- 25.3 results survive a full disk -------------------------------------------------------------------------
def _full_disk_for(name: str, monkeypatch) -> None:
    """``Path.write_text`` raises ENOSPC for files whose name contains ``name`` (a temporary beside it)."""
    real = Path.write_text

    def write_text(self: Path, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if name in self.name:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)


def test_eval_prints_the_table_before_writing_and_a_full_disk_leaves_no_torn_file(
    tmp_path, monkeypatch, capsys
) -> None:
    results = {"cuhk": {"br2net_maxf": {"F": 0.75, "MAE": 0.125, "n_images": 3.0}}}
    (tmp_path / "results.json").write_text('{"earlier": true}')
    _full_disk_for("results.json", monkeypatch)
    with pytest.raises(DiskFullError) as info:
        write_report(results, tmp_path, show=print, write_file=atomic_write)
    assert "| cuhk" in capsys.readouterr().out and "0.75" in (tmp_path / "results.csv").read_text()
    assert str(info.value) == (
        f"no space left on device: {tmp_path / 'results.json'}; the previous results.json is kept"
    )
    assert (tmp_path / "results.json").read_text() == '{"earlier": true}'  # not 0 bytes
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_error_in_a_task_is_one_line_naming_the_full_disk_file(tmp_path, capsys) -> None:
    from omegaconf import OmegaConf

    def fn(cfg):  # noqa: ANN001, ANN202
        raise DiskFullError(f"no space left on device: {tmp_path / 'results.json'}; nothing was replaced")

    cfg = OmegaConf.create({"task_name": "eval", "paths": {"output_dir": str(tmp_path)}})
    with pytest.raises(SystemExit):
        run_task("eval", fn, cfg)
    lines = capsys.readouterr().err.splitlines()
    assert (
        lines[0] == f"eval: error: no space left on device: {tmp_path / 'results.json'}; nothing was replaced"
    )
    assert (
        one_line(OSError(errno.ENOSPC, "No space left on device", "/x/y.csv"))
        == "no space left on device: /x/y.csv"
    )


# -- 25.5 clear lines: checkpoint on a full disk, start-up, pickles, paths outside log_dir ---------------------
def test_a_checkpoint_on_a_full_disk_says_so_and_keeps_the_previous_last_pt(tmp_path, monkeypatch) -> None:
    last = tmp_path / "last.pt"
    atomic_torch_save({"global_step": 10}, last)

    def torch_save_on_full_disk(obj, f):  # noqa: ANN001, ANN202 (what torch's zip writer raises)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1472 vs 1360")

    monkeypatch.setattr(torch, "save", torch_save_on_full_disk)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 0))
    with pytest.raises(
        DiskFullError, match=rf"^no space left on device: {last}; the previous last.pt is kept$"
    ):
        atomic_torch_save({"global_step": 12}, last)
    assert torch.load(last, weights_only=True)["global_step"] == 10 and not list(tmp_path.glob(".*.tmp"))


def test_sigkill_in_the_middle_of_a_write_keeps_the_old_file(tmp_path) -> None:
    target = tmp_path / "last.pt"
    target.write_bytes(b"the finished run")
    code = (
        "import os, signal; from pathlib import Path; from dbdzoo.files import atomic_write\n"
        "def half(tmp):\n    tmp.write_bytes(b'half a checkp'); os.kill(os.getpid(), signal.SIGKILL)\n"
        f"atomic_write(Path({str(target)!r}), half)\n"
    )
    proc = run_child([sys.executable, "-c", code], timeout=120)
    assert proc.returncode == -9
    assert target.read_bytes() == b"the finished run"
    assert [p.name.startswith(".last.pt.") for p in remove_stale_temporaries(tmp_path)] == [True]


class _NotATensor:
    pass


def test_resume_from_a_pickle_never_suggests_weights_only_false(tmp_path) -> None:
    pickled = tmp_path / "pickled.pt"
    torch.save({"global_step": 1, "thing": _NotATensor()}, pickled)
    with pytest.raises(ValueError) as info:
        load_checkpoint(pickled)
    text = str(info.value)
    assert text.startswith(f"{pickled}: refused") and "weights_only" not in text and "likely" not in text


def test_an_unwritable_run_folder_at_start_up_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main("train", ["debug=fast", "hydra.run.dir=/proc/dbdzoo-no-such/run"])
    assert info.value.code == 1
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert err == ["train: error: no such file or directory: /proc/dbdzoo-no-such"], err


@pytest.mark.parametrize("override", ["task_name=../../escaped", "experiment=../../escaped"])
def test_task_name_or_experiment_with_dotdot_cannot_leave_log_dir(tmp_path, capsys, override) -> None:
    with pytest.raises(SystemExit):
        main("train", ["debug=fast", override, f"paths.log_dir={tmp_path / 'logs' / 'inner'}"])
    assert "would place the run outside paths.log_dir" in capsys.readouterr().err
    assert not (tmp_path / "escaped").exists() and not os.path.exists(tmp_path / "logs" / "escaped")


def test_pr_curve_plots_are_written_atomically(tmp_path, monkeypatch):
    """A PNG that fails half-way (full disk) leaves neither a torn plot nor a temporary file."""
    import matplotlib.figure

    from dbdzoo.metrics import DBDEvaluator
    from dbdzoo.metrics.plots import plot_curves

    ev = DBDEvaluator(presets=["br2net_maxf"])
    ev.update(torch.rand(1, 1, 8, 8), (torch.rand(1, 1, 8, 8) > 0.5).float(), ["a"])
    written = plot_curves(ev.curves(), tmp_path, write_file=atomic_write)
    assert all(p.stat().st_size > 0 for p in written)
    before = {p.name: p.read_bytes() for p in written}

    def full_disk(self, fname, **kwargs):
        Path(fname).write_bytes(b"\x89PNG torn")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk)
    with pytest.raises(DiskFullError, match="no space left on device: .*pr_curves.png"):
        plot_curves(ev.curves(), tmp_path, write_file=atomic_write)
    assert {p.name: p.read_bytes() for p in written} == before  # the previous plots are kept whole
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)  # no temporary file left
