"""A signal to the one-shot zoo trainer stops the running stage the way the loop saves, and skips the rest.

Stages run in their own process groups, so a signal to the zoo's group (``timeout``, a slot's deadline)
would not reach them; ``request_stop`` forwards SIGTERM to the running stage. A stand-in ``train.py`` plays
the stage: it saves on SIGTERM as the real loop does (``tests/engine`` covers the loop itself).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from dbdzoo.zoo_training import stages
from dbdzoo.zoo_training.plan import StagePlan

FAKE_TRAIN = """
import json, signal, sys, time
from pathlib import Path
run_dir = Path(next(a.split("=", 1)[1] for a in sys.argv if a.startswith("hydra.run.dir=")))
def stop(*_):
    (run_dir / "run.json").write_text(json.dumps({"step": 7, "max_steps": 100, "wall_s": 1.0}))
    sys.exit(143)
signal.signal(signal.SIGTERM, stop)
(run_dir / "started").write_text("1")
time.sleep(120)
"""


@pytest.fixture(autouse=True)
def fresh_stop_state():
    yield
    stages._Stop.requested, stages._Stop.running = False, None
    stages._Stop.terminated.clear()


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


def test_a_stop_reaches_the_running_stage_in_its_own_group(tmp_path) -> None:
    (tmp_path / "train.py").write_text(FAKE_TRAIN)
    plan = StagePlan("fpn_resnet10t", "synthetic", "fpn_resnet10t_synthetic_gpu", 90.0)
    started = tmp_path / "out" / "runs" / "fpn_resnet10t" / "synthetic" / "started"

    def stop_once_training() -> None:
        _wait_for(started)
        stages.request_stop()

    thread = threading.Thread(target=stop_once_training)
    thread.start()
    t0 = time.perf_counter()
    record = stages.run_stage(
        plan, repo=tmp_path, out=tmp_path / "out", common=[], startup_s=1.0, init_from=None
    )
    thread.join()
    assert record["exit"] == 143  # stopped by the forwarded SIGTERM, not by the 90 s budget
    assert time.perf_counter() - t0 < 60
    assert record["step"] == 7 and record["max_steps"] == 100  # what the stage saved on the signal
    assert stages._Stop.running is None


def test_after_a_stop_the_finished_stage_is_released_and_the_rest_is_skipped(tmp_path, monkeypatch) -> None:
    plans = [
        StagePlan(m, s, f"{m}_{s}_gpu", 60.0)
        for m in ("fpn_resnet10t", "cenet")
        for s in ("synthetic", "cuhk")
    ]
    ran, released = [], []

    def fake_stage(plan, **_) -> dict:
        ran.append((plan.model, plan.stage))
        stages.request_stop()  # the deadline arrives during the first stage
        return {"model": plan.model, "stage": plan.stage, "exit": 143, "step": 7, "error": "stopped"}

    monkeypatch.setattr(stages, "run_stage", fake_stage)
    monkeypatch.setattr(stages, "release", lambda record, out, **_: released.append(record["stage"]) or out)
    records = stages.train_zoo(plans, repo=tmp_path, out=tmp_path, common=[], startup_s=1.0, smoke=True,
                               say=lambda *_: None)  # fmt: skip
    assert ran == [("fpn_resnet10t", "synthetic")]
    assert released == ["synthetic"]  # saved at its step, so its weights still ship
    assert [r["error"] for r in records[1:]] == ["skipped: the zoo was stopped"] * 3
    table = stages.table(records)
    assert "| stopped: stopped |" in table  # saved at step 7: stopped, not failed
    assert table.count("| skipped: the zoo was stopped |") == 3


def test_sigterm_to_the_zoo_process_goes_through_request_stop(tmp_path) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    proc = __import__("subprocess").Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        stages.stop_on_signals()
        stages._Stop.running = proc
        os.kill(os.getpid(), signal.SIGTERM)  # as `timeout` or a slot's deadline would
        assert proc.wait(timeout=30) == -signal.SIGTERM
        assert stages._Stop.requested
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        if proc.poll() is None:
            proc.kill()


def test_a_stop_before_the_stage_starts_still_reaches_it(tmp_path) -> None:
    (tmp_path / "train.py").write_text(FAKE_TRAIN)
    stages._Stop.requested = True  # the signal came while the zoo was launching it
    plan = StagePlan("cenet", "cuhk", "cenet_cuhk_gpu", 90.0)
    t0 = time.perf_counter()
    record = stages.run_stage(
        plan, repo=tmp_path, out=tmp_path / "out", common=[], startup_s=1.0, init_from=None
    )
    assert record["exit"] in (143, -signal.SIGTERM)  # stopped early or mid-start, never trained to budget
    assert time.perf_counter() - t0 < 60 and record["error"]


COUNTING_TRAIN = """
import signal, sys, time
from pathlib import Path
run_dir = Path(next(a.split("=", 1)[1] for a in sys.argv if a.startswith("hydra.run.dir=")))
count = []
signal.signal(signal.SIGTERM, lambda *_: count.append(1))
(run_dir / "started").write_text("1")
while not count:
    time.sleep(0.01)
time.sleep(1.5)  # saving: a second SIGTERM now would kill the real loop unsaved
(run_dir / "sigterms").write_text(str(len(count)))
sys.exit(143)
"""


def test_a_stage_gets_one_sigterm_when_its_timer_and_a_stop_both_fire(tmp_path, monkeypatch) -> None:
    (tmp_path / "train.py").write_text(COUNTING_TRAIN)
    monkeypatch.setattr(stages, "GRACE_S", 0.0)
    plan = StagePlan("br2net", "synthetic", "br2net_synthetic_gpu", 3.0)  # the zoo's timer fires at 3 s
    run_dir = tmp_path / "out" / "runs" / "br2net" / "synthetic"

    def stop_after_the_timer() -> None:
        _wait_for(run_dir / "started")
        end = time.monotonic() + 30
        while not stages._Stop.terminated and time.monotonic() < end:
            time.sleep(0.01)
        stages.request_stop()  # the slot's deadline, while the stage is saving

    thread = threading.Thread(target=stop_after_the_timer)
    thread.start()
    record = stages.run_stage(
        plan, repo=tmp_path, out=tmp_path / "out", common=[], startup_s=0.0, init_from=None
    )
    thread.join()
    assert record["exit"] == 143
    assert (run_dir / "sigterms").read_text() == "1"
