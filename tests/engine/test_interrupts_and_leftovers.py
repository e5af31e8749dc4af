"""Interrupts save the step they stop at; killed runs leave nothing that breaks the next one."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
from helpers.child import Child
from safetensors.torch import save_file

import dbdzoo.engine.loop.fit as train_module
from dbdzoo.engine import train
from dbdzoo.engine.checkpoint import load_checkpoint
from dbdzoo.engine.loop.interrupts import TrainingInterrupted

REPO = Path(__file__).resolve().parents[2]


def _signal_at(monkeypatch, signum: int, at_step: int) -> None:
    """Deliver ``signum`` to this process in the middle of optimiser step ``at_step`` (0-based)."""
    real_step = train_module.train_step

    def step_then_signal(run, *args):
        real_step(run, *args)
        if run.step == at_step:  # the loop counts the step after train_step returns
            signal.raise_signal(signum)

    monkeypatch.setattr(train_module, "train_step", step_then_signal)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_last_pt_at_the_current_step(fast_cfg, tmp_path, monkeypatch, signum, code) -> None:
    _signal_at(monkeypatch, signum, at_step=2)
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}  # SIG_IGN under `cmd &`
    cfg = fast_cfg("trainer.max_steps=50", "trainer.ckpt_every=40", "trainer.val_every=40")
    with pytest.raises(
        TrainingInterrupted, match=rf"interrupted by {signal.Signals(signum).name} at step 3/50"
    ) as info:
        train(cfg)
    assert info.value.exit_code == code
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["global_step"] == 3  # not 0
    assert {s: signal.getsignal(s) for s in before} == before  # the loop's handlers are removed again
    record = json.loads(
        (tmp_path / "run" / "run.json").read_text()
    )  # the zoo's report reads where it stopped
    assert (record["step"], record["max_steps"], record["stopped_by"]) == (3, 50, signal.Signals(signum).name)
    assert record["wall_s"] > 0


def test_a_resumed_run_that_finishes_clears_the_stop_from_its_record(fast_cfg, tmp_path, monkeypatch) -> None:
    _signal_at(monkeypatch, signal.SIGTERM, at_step=1)
    with pytest.raises(TrainingInterrupted):
        train(fast_cfg("trainer.max_steps=4", "trainer.ckpt_every=40", "trainer.val_every=40"))
    monkeypatch.undo()
    train(fast_cfg("trainer.max_steps=4", "trainer.ckpt_every=40", "trainer.val_every=40", "resume=auto"))
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (record["step"], record["stopped_by"]) == (4, None)


def test_ctrl_c_on_the_command_line_is_one_line_and_resumable(tmp_path) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "train.py", "debug=fast", "model.backbone=tiny_vgg", "model.decoder_channels=8",
               "data.train.size=32", "data.val.size=32", "trainer.max_steps=100000", "trainer.ckpt_every=100000",
               "trainer.val_every=100000", "logger.log_every=1", f"hydra.run.dir={run}"]  # fmt: skip
    with Child(command, tmp_path, "train") as child:
        child.wait_for_line("step 2/", timeout=120)  # training is really under way
        child.proc.send_signal(signal.SIGINT)  # to the main process, as before
        code, err = child.wait(timeout=120), child.stderr
    assert code == 130, err
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("train: interrupted by SIGINT at step "), err
    step = int(lines[0].split(" at step ")[1].split("/")[0])
    assert step >= 2 and load_checkpoint(run / "checkpoints" / "last.pt")["global_step"] == step


def test_stale_temporaries_of_a_killed_write_are_removed_at_start(fast_cfg, tmp_path, capsys) -> None:
    ckpt_dir = tmp_path / "run" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    stale = ckpt_dir / ".last.pt.k1ll3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    train(fast_cfg())
    assert not stale.exists() and not list(ckpt_dir.glob(".*.tmp"))
    assert ".last.pt.k1ll3d.tmp" in capsys.readouterr().out


def _trained_last_pt(fast_cfg, tmp_path) -> Path:
    train(fast_cfg(out="source"))
    return tmp_path / "source" / "checkpoints" / "last.pt"


def test_empty_and_truncated_checkpoints_give_a_clear_error(fast_cfg, tmp_path) -> None:
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.pt: checkpoint is empty \(0 bytes\)"):
        train(fast_cfg(f"resume={empty}", out="a"))
    whole = _trained_last_pt(fast_cfg, tmp_path).read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        ValueError, match=r"cut\.pt: cannot be read as a dbdzoo checkpoint \(\d+ bytes; truncated"
    ):
        train(fast_cfg(f"resume={cut}", out="b"))


def test_resuming_from_a_release_says_it_is_not_a_training_checkpoint(fast_cfg, tmp_path) -> None:
    release = tmp_path / "weights.safetensors"
    save_file({}, str(release))
    with pytest.raises(ValueError, match=r"weights\.safetensors is released weights .*trainer\.init_from"):
        train(fast_cfg(f"resume={release}"))


def test_resume_cuts_the_metric_logs_back_to_the_checkpoint_step(fast_cfg, tmp_path) -> None:
    import json

    common = ["trainer.max_steps=4", "trainer.val_every=2", "trainer.ckpt_every=2"]
    train(fast_cfg(*common, "trainer.stop_after=2"))
    run = tmp_path / "run"
    at_step_2 = tmp_path / "step2.pt"
    at_step_2.write_bytes((run / "checkpoints" / "last.pt").read_bytes())
    train(fast_cfg(*common, "resume=auto"))  # on to step 4: the logs hold steps 1-4
    train(fast_cfg(*common, f"resume={at_step_2}"))  # as if the run had died after step 2's checkpoint
    steps = [json.loads(line)["step"] for line in (run / "metrics" / "train.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]  # without the cut: [1, 2, 3, 4, 3, 4]
    val_steps = [
        json.loads(line)["step"] for line in (run / "metrics" / "val.jsonl").read_text().splitlines()
    ]
    assert val_steps == [2, 4]


def test_a_signal_during_the_last_step_still_finishes_the_run(fast_cfg, tmp_path, monkeypatch) -> None:
    _signal_at(monkeypatch, signal.SIGTERM, at_step=3)  # the 4th and last step
    results = train(fast_cfg("trainer.max_steps=4", "trainer.val_every=4"))
    assert "ddffnet/F" in results and (tmp_path / "run" / "checkpoints" / "last.safetensors").is_file()
