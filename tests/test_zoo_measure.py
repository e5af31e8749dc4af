"""The zoo's measured precision: each stage trains in what a timed step found faster, never assumed."""

from __future__ import annotations

import json

import pytest
import torch

from dbdzoo.zoo_training import measure
from dbdzoo.zoo_training.plan import StagePlan, fit_to_time


@pytest.mark.parametrize(
    ("bf16_cl", "fp32", "expected"),
    [
        (14.8, 11.3, "fp32"),  # the FPNs at commit 77531ab on the H200: bf16+CL at 0.77x
        (10.0, 9.8, "bf16_cl"),  # within the 5 % of timing noise: the recipe's choice stays
        (52.0, 125.0, "bf16_cl"),  # BTBNet: 2.4x
    ],
)
def test_fp32_replaces_the_recipe_only_when_clearly_faster(bf16_cl, fp32, expected) -> None:
    assert measure.choose({"bf16_cl": bf16_cl, "fp32": fp32}) == expected


def test_a_user_precision_override_is_respected() -> None:
    assert measure.user_sets_precision(["trainer.precision=bf16"])
    assert measure.user_sets_precision(["++trainer.channels_last=false", "optim.lr=1e-3"])
    assert not measure.user_sets_precision(["optim.lr=1e-3", "trainer.precision_note=x"])


def test_auto_measures_every_stage_both_ways_and_reports_the_choice(monkeypatch) -> None:
    timings = {("synthetic", "bf16_cl"): 14.8, ("synthetic", "fp32"): 11.3,
               ("cuhk", "bf16_cl"): 30.0, ("cuhk", "fp32"): 31.0}  # fmt: skip
    calls = []

    def fake_step(model, device, smoke, stage="synthetic", variant=None) -> dict:
        calls.append((stage, variant))
        return {"step_ms": timings[stage, variant]}

    monkeypatch.setattr(measure, "measure_step", fake_step)
    said = []
    step_s, picks = measure.measure_model(
        "fpn_resnet10t", "cuda", smoke=False, precision="auto", overrides=[], say=said.append
    )
    assert sorted(calls) == sorted(timings)
    assert picks["synthetic"]["precision"] == "fp32" and picks["cuhk"]["precision"] == "bf16_cl"
    assert picks["synthetic"]["overrides"] == ["trainer.precision=fp32", "trainer.channels_last=false"]
    assert picks["cuhk"]["overrides"] == []
    assert step_s == pytest.approx(0.0113)  # the synthetic stage's chosen step sizes the budget check
    assert (
        said[0]
        == "measured fpn_resnet10t (synthetic): bf16_cl 14.8 ms, fp32 11.3 ms per step; trains in fp32"
    )
    lines = measure.precision_lines({"fpn_resnet10t": picks})
    assert lines == ["fpn_resnet10t synthetic: trained in fp32 (step ms: bf16_cl 14.8, fp32 11.3)",
                     "fpn_resnet10t cuhk: trained in bf16_cl (step ms: bf16_cl 30.0, fp32 31.0)"]  # fmt: skip


@pytest.mark.parametrize(
    "kwargs",
    [
        {"smoke": False, "precision": "recipe", "overrides": []},
        {"smoke": False, "precision": "auto", "overrides": ["trainer.precision=bf16"]},
        {"smoke": True, "precision": "auto", "overrides": []},
    ],
)
def test_recipe_a_user_override_or_a_smoke_run_measures_once_and_chooses_nothing(monkeypatch, kwargs):
    calls = []
    monkeypatch.setattr(measure, "measure_step", lambda *a, **k: calls.append((a, k)) or {"step_ms": 20.0})
    step_s, picks = measure.measure_model("cenet", "cuda", say=lambda *_: None, **kwargs)
    assert (step_s, picks, len(calls)) == (0.02, {}, 1)


def test_stages_get_their_precision_before_the_users_overrides_and_fit_the_time_left() -> None:
    plans = [StagePlan("fpn_resnet10t", s, f"fpn_resnet10t_{s}_gpu", b, ["optim.lr=1e-3"])
             for s, b in (("synthetic", 160.0), ("cuhk", 240.0))]  # fmt: skip
    plans.append(StagePlan("cenet", "synthetic", "cenet_synthetic_gpu", 100.0))
    picks = {"fpn_resnet10t": {"synthetic": {"overrides": ["trainer.precision=fp32"]}}}
    fitted = fit_to_time(plans, {"fpn_resnet10t": 0.01}, picks, left_s=360.0)  # cenet failed its measurement
    assert [(p.stage, round(p.budget_s)) for p in fitted] == [("synthetic", 144), ("cuhk", 216)]
    assert fitted[0].overrides == ["trainer.precision=fp32", "optim.lr=1e-3"]
    assert fitted[1].overrides == ["optim.lr=1e-3"]
    assert [p.budget_s for p in fit_to_time(plans[:2], {"fpn_resnet10t": 0.01}, {}, 1000.0)] == [160.0, 240.0]


def test_a_real_measured_step_in_each_candidate() -> None:
    for variant in measure.CANDIDATES:
        row = measure.measure_step("fpn_resnet10t", torch.device("cpu"), True, "cuhk", variant)
        assert row["step_ms"] > 0


@pytest.mark.parametrize("model", ["fpn_resnet10t", "cenet", "dmenet"])
def test_the_fp32_choice_composes_with_every_gpu_recipe(model) -> None:
    from hydra import compose, initialize_config_dir

    from dbdzoo.engine.config import config_dir
    from dbdzoo.zoo_training.plan import STAGES, experiment_of

    for stage in STAGES:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("train", [f"experiment={experiment_of(model, stage)}", *measure.OVERRIDES["fp32"]])
        assert (cfg.trainer.precision, cfg.trainer.channels_last) == ("fp32", False)
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose(
                "train", [f"experiment={experiment_of(model, stage)}", *measure.OVERRIDES["bf16_cl"]]
            )
        assert (cfg.trainer.precision, cfg.trainer.channels_last) == ("bf16", True)  # the recipe as written


def test_fp32_out_of_memory_keeps_the_recipe_and_says_so(monkeypatch) -> None:
    def fake_step(model, device, smoke, stage="synthetic", variant=None) -> dict:
        if variant == "fp32":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return {"step_ms": 520.0}

    monkeypatch.setattr(measure, "measure_step", fake_step)
    said = []
    pick = measure.choose_precision("btbnet", "cuhk", "cuda", said.append)
    assert pick["precision"] == "bf16_cl" and pick["overrides"] == []
    assert said == [
        "measured btbnet (cuhk): bf16_cl 520.0 ms, fp32 out of memory per step; trains in bf16_cl"
    ]
    assert json.loads(json.dumps(pick, allow_nan=False))["step_ms"] == {
        "bf16_cl": 520.0,
        "fp32": None,
    }  # strict JSON
    assert measure.precision_lines({"btbnet": {"cuhk": pick}}) == [
        "btbnet cuhk: trained in bf16_cl (step ms: bf16_cl 520.0, fp32 out of memory)"]  # fmt: skip


def test_the_recipe_out_of_memory_fails_the_network(monkeypatch) -> None:
    def fake_step(*a, **k) -> dict:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(measure, "measure_step", fake_step)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        measure.choose_precision("btbnet", "cuhk", "cuda", lambda *_: None)
