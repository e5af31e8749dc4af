"""MetricLogger on resume: rows the killed run logged after the checkpoint are dropped, never duplicated."""

from __future__ import annotations

import csv
import json

import pytest

from dbdzoo.engine.logger import MetricLogger


def steps(path) -> list[int]:
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def killed_run(tmp_path) -> None:
    """Logged train rows 1..6 and val rows 2, 4, 6; the last checkpoint was at step 4."""
    first = MetricLogger(tmp_path, tensorboard=False)
    for s in range(1, 7):
        first.log("train", s, {"loss": 1.0 / s})
        if s % 2 == 0:
            first.log("val", s, {"F": s / 10})


def test_resume_drops_rows_after_the_checkpoint_step(tmp_path):
    killed_run(tmp_path)
    resumed = MetricLogger(tmp_path, tensorboard=False, resume_step=4)
    metrics = tmp_path / "metrics"
    assert steps(metrics / "train.jsonl") == [1, 2, 3, 4] and steps(metrics / "val.jsonl") == [2, 4]
    for s in (5, 6):  # the resumed run logs steps 5 and 6 again
        resumed.log("train", s, {"loss": 0.0, "lr": 0.1})  # a new column rebuilds the CSV
    resumed.log("val", 6, {"F": 0.9})
    assert steps(metrics / "train.jsonl") == [1, 2, 3, 4, 5, 6] and steps(metrics / "val.jsonl") == [2, 4, 6]
    rows = list(csv.DictReader((metrics / "train.csv").read_text().splitlines()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6] and rows[-1]["lr"] == "0.1"
    val = list(csv.DictReader((metrics / "val.csv").read_text().splitlines()))
    assert [(int(r["step"]), float(r["F"])) for r in val] == [(2, 0.2), (4, 0.4), (6, 0.9)]


def test_resume_at_step_zero_and_fresh_runs(tmp_path):
    killed_run(tmp_path)
    MetricLogger(tmp_path, tensorboard=False)  # no resume_step: history is kept as it is
    assert steps(tmp_path / "metrics" / "train.jsonl") == [1, 2, 3, 4, 5, 6]
    MetricLogger(tmp_path, tensorboard=False, resume_step=0)
    assert (tmp_path / "metrics" / "train.jsonl").read_text() == ""
    assert not (tmp_path / "metrics" / "train.csv").exists()  # rebuilt by the next log


def test_torn_last_line_is_dropped_and_other_bad_lines_are_named(tmp_path):
    killed_run(tmp_path)
    jsonl = tmp_path / "metrics" / "train.jsonl"
    with open(jsonl, "a") as f:
        f.write('{"step": 7, "lo')  # killed mid-write
    MetricLogger(tmp_path, tensorboard=False, resume_step=6)
    assert steps(jsonl) == [1, 2, 3, 4, 5, 6]
    jsonl.write_text('{"step": 1}\nnot json\n{"step": 2}\n')
    with pytest.raises(ValueError, match=r"train.jsonl:2: not a JSON metrics row"):
        MetricLogger(tmp_path, tensorboard=False, resume_step=1)
    jsonl.write_text('{"loss": 1.0}\n')
    with pytest.raises(ValueError, match=r"train.jsonl:1: expected a JSON object with an integer 'step'"):
        MetricLogger(tmp_path, tensorboard=False, resume_step=1)


def test_disabled_logger_on_other_ranks_leaves_the_files_alone(tmp_path):
    killed_run(tmp_path)
    MetricLogger(tmp_path, enabled=False, resume_step=2)
    assert steps(tmp_path / "metrics" / "train.jsonl") == [1, 2, 3, 4, 5, 6]


def test_tensorboard_hides_the_killed_runs_later_events(tmp_path):
    # tensorboard is the [tensorboard] extra, which `make test` installs
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    first = MetricLogger(tmp_path)
    for s in range(1, 7):
        first.log("train", s, {"loss": float(s)})
    first.close()
    resumed = MetricLogger(tmp_path, resume_step=4)
    for s in (5, 6):
        resumed.log("train", s, {"loss": 10.0 * s})
    resumed.close()
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    events = [(e.step, e.value) for e in acc.Scalars("train/loss")]
    assert events == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 50.0), (6, 60.0)]
