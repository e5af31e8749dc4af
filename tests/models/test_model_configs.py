"""Every ``configs/model/*.yaml`` matches its constructor, and every model's objective config matches
the objective registry (so ``python train.py model=X`` and a config-less build train the same way)."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from dbdzoo.losses import OBJECTIVES, default_objective, objective_options
from dbdzoo.models import MODELS
from dbdzoo.registry import accepted_options

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
MODEL_CONFIGS = sorted(p.stem for p in (CONFIGS / "model").glob("*.yaml"))


def test_constructor_options_follow_kwargs_to_the_class() -> None:
    assert {"decoder_channels", "backbone"} <= accepted_options(MODELS.get("fpn"))  # fpn(**kwargs) -> FPN
    assert "fnet_width" in accepted_options(MODELS.get("btbnet"))
    assert "loss" not in accepted_options(MODELS.get("btbnet"))  # training options left the network


@pytest.mark.parametrize("name", MODEL_CONFIGS)
def test_model_config_matches_its_constructor(name: str) -> None:
    cfg = OmegaConf.to_container(OmegaConf.load(CONFIGS / "model" / f"{name}.yaml"))
    assert cfg.pop("name") == name and name in MODELS, f"configs/model/{name}.yaml must name model {name!r}"
    unknown = sorted(set(cfg) - accepted_options(MODELS.get(name)))
    assert not unknown, f"configs/model/{name}.yaml: {unknown} are not arguments of {name}'s constructor"


@pytest.fixture(scope="module")
def composed_objectives() -> dict[str, dict]:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return {
            name: OmegaConf.to_container(compose("train", overrides=[f"model={name}"]).objective)
            for name in MODEL_CONFIGS
        }


def _factory_defaults(objective: str) -> dict:
    fn = OBJECTIVES.get(objective)
    params = dict(inspect.signature(fn).parameters)
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        params |= dict(inspect.signature(typing.get_type_hints(fn)["return"]).parameters)
    return {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("name", MODEL_CONFIGS)
def test_each_model_trains_with_its_paper_objective(name: str, composed_objectives) -> None:
    assert (CONFIGS / "objective" / f"{name}.yaml").is_file(), (
        f"model {name} needs configs/objective/{name}.yaml"
    )
    cfg = dict(composed_objectives[name])
    paper = default_objective(name)
    assert cfg.pop("name") == paper.pop("name")
    unknown = sorted(set(cfg) - objective_options(default_objective(name)["name"]))
    assert not unknown, f"configs/objective/{name}.yaml: {unknown} are no options of its objective"
    expected = {**_factory_defaults(default_objective(name)["name"]), **paper}
    for key, value in cfg.items():
        if isinstance(value, str) and value.startswith("${"):
            continue  # follows the model config (e.g. perceptual_pretrained: ${model.pretrained_backbone})
        want = list(expected[key]) if isinstance(expected[key], tuple) else expected[key]
        assert value == want, (
            f"configs/objective/{name}.yaml {key}={value!r}, the registry default is {want!r}"
        )


def test_objective_group_can_be_switched_and_tuned() -> None:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        tuned = compose("train", overrides=["model=cenet", "objective.lambda_cross=0.02"])
        switched = compose("train", overrides=["model=br2net", "objective=btbcrl"])
        staged = compose("train", overrides=["experiment=btbnet_cuhk", "objective.stage=fnet"])
    assert tuned.objective.name == "cross_ensemble" and tuned.objective.lambda_cross == 0.02
    assert switched.objective.aux_resize == "target" and switched.model.name == "br2net"
    assert staged.objective.stage == "fnet" and staged.model.name == "btbnet"
    assert "objective" not in staged.model and "stage" not in staged.model
