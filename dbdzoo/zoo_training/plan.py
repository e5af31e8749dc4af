"""The plan of a one-shot zoo training run: which stages, how many seconds each, refused before any training.

A lent GPU comes for minutes, so everything that can be wrong with a request (an unknown network, a missing
data folder, a budget that cannot hold one measured step) is found here, in one line, before the first
stage starts; the stages then only spend time on training.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..bench.tiny import TINY_OBJECTIVE_OVERRIDES, tiny_overrides

#: the networks a zoo run trains, in the order the weights issue asks for, and their two recipes
ZOO_MODELS = (
    "fpn_resnet10t",
    "cenet",
    "br2net",
    "defusionnet",
    "defusionnet_tpami",
    "dmenet",
    "btbnet",
    "btbcrl",
)
STAGES = ("synthetic", "cuhk")
#: seconds a stage needs besides its training steps: interpreter, imports, CUDA context, model build,
#: first batches (before the loop's own clock starts), then the release; re-measured after every stage
DEFAULT_STARTUP_S = {"cuda": 30.0, "cpu": 8.0}


def experiment_of(model: str, stage: str) -> str:
    """The recipe of one stage: ``fpn_resnet10t_{synthetic,cuhk}_gpu``, else ``<model>_synthetic[_cuhk]_gpu``."""
    if model == "fpn_resnet10t":
        return f"fpn_resnet10t_{stage}_gpu"
    return f"{model}_synthetic_gpu" if stage == "synthetic" else f"{model}_synthetic_cuhk_gpu"


@dataclass
class StagePlan:
    model: str
    stage: str
    experiment: str
    budget_s: float
    overrides: list[str] = field(default_factory=list)


class PlanError(ValueError):
    """A request the zoo run refuses before training (one line)."""


def parse_model_overrides(items: list[str], models: list[str]) -> dict[str, list[str]]:
    """``MODEL:KEY=VALUE`` → ``{MODEL: ["KEY=VALUE", ...]}`` (Hydra overrides for that model's stages)."""
    out: dict[str, list[str]] = {m: [] for m in models}
    for item in items:
        model, sep, override = item.partition(":")
        if not sep or "=" not in override:
            raise PlanError(f"--set {item!r}: expected MODEL:KEY=VALUE, e.g. cenet:data.batch_size=16")
        if model not in out:
            raise PlanError(
                f"--set {item!r}: {model!r} is not one of the models of this run ({', '.join(models)})"
            )
        out[model].append(override)
    return out


def check_request(models: list[str], cuhk_dir: Path, photos_dir: Path) -> None:
    """Known networks with GPU recipes, and both data folders present."""
    from ..models import MODELS

    for model in models:
        if model not in ZOO_MODELS:
            known = "registered, but it has no zoo recipes" if model in MODELS else "not a dbdzoo network"
            raise PlanError(f"unknown model {model!r} ({known}); expected some of {', '.join(ZOO_MODELS)}")
    if len(set(models)) != len(models):
        raise PlanError(f"--models lists a network twice: {' '.join(models)}")
    for flag, folder in (("--cuhk-dir", cuhk_dir), ("--photos-dir", photos_dir)):
        if not Path(folder).is_dir():
            raise PlanError(f"{flag} {folder}: no such folder")
    if not (Path(cuhk_dir) / "image").is_dir() or not (Path(cuhk_dir) / "gt").is_dir():
        raise PlanError(
            f"--cuhk-dir {cuhk_dir}: expected CUHK's image/ and gt/ folders (CUHK-TR-1 is enough)"
        )


def split_budget(
    models: list[str], budget_s: float, model_budget_s: float | None, synthetic_share: float, reserve_s: float
) -> dict[tuple[str, str], float]:
    """Seconds per (model, stage): an equal share of the run (or ``model_budget_s``), split between stages."""
    if not 0 < synthetic_share < 1:
        raise PlanError(f"--synthetic-share {synthetic_share}: expected a fraction in (0, 1)")
    usable = budget_s - reserve_s
    per_model = model_budget_s if model_budget_s else usable / max(1, len(models))
    if per_model * len(models) > usable + 1e-6:
        raise PlanError(
            f"--model-budget-s {per_model:g} x {len(models)} models exceeds --budget-s {budget_s:g} "
            f"(less {reserve_s:g} s for the measurements and the report)"
        )
    return {
        (m, s): per_model * (synthetic_share if s == "synthetic" else 1 - synthetic_share)
        for m in models
        for s in STAGES
    }


def check_fits(plans: list[StagePlan], step_s: dict[str, float], startup_s: float, probe_steps: int) -> None:
    """Refuse a stage whose seconds cannot hold start-up, the probe and a few more measured steps."""
    for plan in plans:
        need = startup_s + (probe_steps + 5) * step_s[plan.model]
        if plan.budget_s < need:
            raise PlanError(
                f"the budget of {plan.budget_s:.0f} s for {plan.model} ({plan.stage}) is too small: one measured "
                f"step takes {step_s[plan.model]:.2f} s, and start-up plus {probe_steps} probe steps need "
                f"{need:.0f} s; raise --budget-s or train fewer models"
            )


def fit_to_time(
    plans: list[StagePlan], step_s: dict[str, float], choices: dict[str, dict], left_s: float
) -> list[StagePlan]:
    """The measured networks' stages with their measured precision, scaled down if measuring overran its share."""
    plans = [p for p in plans if p.model in step_s]
    scale = min(1.0, left_s / max(1e-9, sum(p.budget_s for p in plans)))
    return [replace(p, budget_s=p.budget_s * scale,
                    overrides=[*choices.get(p.model, {}).get(p.stage, {}).get("overrides", []), *p.overrides])
            for p in plans]  # fmt: skip


def speed_overrides(model: str, stage: str, synthetic_render: str) -> list[str]:
    """What a zoo run changes in a recipe to spend its GPU seconds training, not waiting for data.

    On the H200 the photoreal renderer on 14 CPU workers fed 0.31x of what fpn_resnet10t's step takes, the
    batched device renderer 2.06x (docs/benchmarks.md, "Input pipeline"), so synthetic stages render on the
    GPU unless ``--synthetic-render worker``. DMENet's three domains keep the worker renderer.
    """
    if stage == "synthetic" and model != "dmenet" and synthetic_render == "device":
        return ["data.render_on=device"]
    return []


def smoke_overrides(model: str, stage: str) -> list[str]:
    """A CPU smoke stage: the tiny network, tiny inputs, no workers (the test suite runs it)."""
    tiny = [f"++model.{k}={_hydra_value(v)}" for k, v in tiny_overrides(model).items()]
    tiny += [f"++objective.{k}={_hydra_value(v)}" for k, v in TINY_OBJECTIVE_OVERRIDES.get(model, {}).items()]
    common = ["trainer.device=cpu", "trainer.precision=fp32", "trainer.channels_last=false",
              "data.num_workers=0", "data.batch_size=2", "trainer.budget_probe_steps=5"]  # fmt: skip
    if model == "dmenet":  # three domains instead of data.train
        data = ["data.domains.syn.size=32", "data.domains.unlabelled.transform.size=32"]
        data += ["data.domains.real.size=32", "data.val.size=32", "data.val.length=2"] if stage == "synthetic" else [
            "data.domains.real.transform.size=32", "trainer.val_batches=4"]  # fmt: skip
    elif stage == "synthetic":
        data = ["data.train.size=32", "data.train.length=64", "data.val.size=32", "data.val.length=2"]
    else:
        data = ["data.train.transform.size=32", "trainer.val_batches=4"]
    return [*tiny, *common, *data]


def _hydra_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_hydra_value(v) for v in value) + "]"
    return str(value)
