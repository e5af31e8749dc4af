"""``trainer.time_budget_s``: a probe sizes the schedule so that a run ends on it, inside the budget.

The clock is driven by the test (each training step costs 0.5 s, each validation 2 s of fake time), so
the sized length is exact arithmetic, not a timing.
"""

from __future__ import annotations

import json

import pytest
import torch

import dbdzoo.engine.loop.budget as budget_mod
import dbdzoo.engine.loop.fit as train_module
from dbdzoo.engine import train
from dbdzoo.engine.loop.budget import SAFETY, sized_steps

NO_PERIODIC = [
    "trainer.val_every=1000",
    "trainer.ckpt_every=1000",
    "data.val.length=1",
    "trainer.val_batches=1",
]


class FakeClock:
    """Time that only moves when the loop trains or validates."""

    def __init__(self, monkeypatch, step_s: float = 0.5, val_s: float = 2.0) -> None:
        self.t, self.step_s, self.val_s = 0.0, step_s, val_s
        real_step, real_val = train_module.train_step, train_module.validate_all
        monkeypatch.setattr(budget_mod, "now", self.now)
        monkeypatch.setattr(train_module, "now", self.now)

        def step(*args, **kwargs):
            self.t += self.step_s
            return real_step(*args, **kwargs)

        def validate(*args, **kwargs):
            self.t += self.val_s
            return real_val(*args, **kwargs)

        monkeypatch.setattr(train_module, "train_step", step)
        monkeypatch.setattr(train_module, "validate_all", validate)

    def now(self) -> float:
        return self.t


def _expected_steps(budget: float, probe: int, step_s: float, val_s: float) -> int:
    elapsed = probe * step_s + val_s  # the probe's steps and its validation
    reserve = 2 * val_s + 2.0  # saves cost no fake time
    return probe + int(SAFETY * (budget - elapsed - reserve) // (step_s + val_s / 1000))


def test_sized_steps_fills_the_time_left_with_steps_and_their_validations():
    # 0.92 * (100 - 4) = 88.32 s for steps of 0.1 s plus a 2 s validation every 10 steps (0.3 s/step)
    assert sized_steps(100.0, 0.1, 2.0, 10, 4.0, 20) == 20 + 294
    assert sized_steps(100.0, 0.1, 0.0, 10, 4.0, 20) == 20 + 883  # no validation set
    assert sized_steps(3.0, 0.1, 2.0, 10, 4.0, 20) == 20  # nothing left: stop at the probe


def test_a_budgeted_run_ends_on_its_schedule_within_the_budget(fast_cfg, tmp_path, monkeypatch):
    clock = FakeClock(monkeypatch)
    cfg = fast_cfg(*NO_PERIODIC, "trainer.max_steps=100000", "trainer.time_budget_s=60",
                   "trainer.budget_probe_steps=6", "sched=poly", out="b")  # fmt: skip
    train(cfg)
    expected = _expected_steps(60, 6, 0.5, 2.0)
    assert 10 < expected < 100000
    record = json.loads((tmp_path / "b" / "run.json").read_text())
    assert record["step"] == record["max_steps"] == expected
    assert clock.t <= 60
    ckpt = torch.load(tmp_path / "b" / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == expected
    assert ckpt["config"]["trainer"]["max_steps"] == expected
    assert ckpt["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)  # poly reached 0


def test_a_resumed_budgeted_run_keeps_the_sized_schedule(fast_cfg, tmp_path, monkeypatch):
    FakeClock(monkeypatch)
    common = [*NO_PERIODIC, "trainer.max_steps=100000", "trainer.time_budget_s=60",
              "trainer.budget_probe_steps=6", "sched=poly"]  # fmt: skip
    train(fast_cfg(*common, "trainer.stop_after=30", out="r"))
    first = torch.load(tmp_path / "r" / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert first["global_step"] == 30 and first["optimizer"]["param_groups"][0]["lr"] > 0
    last = tmp_path / "r" / "checkpoints" / "last.pt"
    train(fast_cfg(*common, f"resume={last}", out="r"))
    done = torch.load(last, map_location="cpu", weights_only=True)
    assert done["global_step"] == _expected_steps(60, 6, 0.5, 2.0)  # not 100000, not re-probed
    assert done["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_a_run_slower_than_its_probe_stops_early_saved_and_validated(fast_cfg, tmp_path, monkeypatch):
    clock = FakeClock(monkeypatch)
    real_size = budget_mod.BudgetClock.size

    def size_then_slow_down(self, step, val_every):
        clock.step_s = 2.0  # after the probe every step costs 4x what it measured
        return real_size(self, step, val_every)

    monkeypatch.setattr(budget_mod.BudgetClock, "size", size_then_slow_down)
    train(fast_cfg(*NO_PERIODIC, "trainer.max_steps=100000", "trainer.time_budget_s=60",
                   "trainer.budget_probe_steps=6", out="s"))  # fmt: skip
    record = json.loads((tmp_path / "s" / "run.json").read_text())
    assert 6 < record["step"] < record["max_steps"]
    assert record["results"]  # the early stop still validated
    assert clock.t <= 60
    ckpt = torch.load(tmp_path / "s" / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == record["step"]


@pytest.mark.parametrize("bad", ["trainer.time_budget_s=-5", "trainer.budget_probe_steps=2"])
def test_bad_budget_values_are_refused_by_name(fast_cfg, bad):
    with pytest.raises(ValueError, match=bad.split("=")[0].replace(".", r"\.")):
        train(fast_cfg(bad))
