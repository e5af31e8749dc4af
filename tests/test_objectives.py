"""The objective registry and the model + objective builder: declared interfaces, paper defaults,
clear errors, and staged training chosen by the objective (not by the network's constructor)."""

from __future__ import annotations

import pytest
import torch

from dbdzoo import create_model
from dbdzoo.bench.tiny import tiny_overrides
from dbdzoo.engine.builders import build_model_and_objective
from dbdzoo.losses import (
    AdversarialObjective,
    CrossEnsembleLoss,
    DeepSupervisionLoss,
    DMENetObjective,
    Objective,
    build_objective,
    default_objective,
    list_objectives,
)

TINY_DMENET_OBJECTIVE = {"perceptual_backbone": "tiny_vgg", "perceptual_pretrained": False}


def test_each_model_gets_its_paper_objective_by_default() -> None:
    assert list_objectives() == ["cross_ensemble", "deep_supervision", "dmenet_bdcs"]
    assert default_objective("cenet") == {"name": "cross_ensemble"}
    assert default_objective("btbcrl") == {"name": "deep_supervision", "aux_resize": "target"}
    assert default_objective("not_declared_anywhere") == {"name": "deep_supervision"}  # BCE deep supervision
    cenet = create_model("cenet", **tiny_overrides("cenet"))
    assert isinstance(build_objective(None, cenet), CrossEnsembleLoss)
    fpn = create_model("fpn", **tiny_overrides("fpn"))
    assert type(build_objective(None, fpn)) is DeepSupervisionLoss


def test_objectives_declare_their_protocol() -> None:
    dmenet = create_model("dmenet", **tiny_overrides("dmenet"))
    adversarial = build_objective({"name": "dmenet_bdcs", **TINY_DMENET_OBJECTIVE}, dmenet)
    assert isinstance(adversarial, AdversarialObjective) and isinstance(
        adversarial.adversary, torch.nn.Module
    )
    assert adversarial.adversary_first and not adversarial.ddp_broadcast_buffers
    assert adversarial.target_units == dmenet.sigma_units  # the objective reads the network, not vice versa
    plain = build_objective(None, create_model("fpn", **tiny_overrides("fpn")))
    assert isinstance(plain, Objective) and not isinstance(plain, AdversarialObjective)
    assert plain.ddp_broadcast_buffers
    with pytest.raises(TypeError, match="abstract"):

        class Incomplete(AdversarialObjective):
            def adversary_loss(self) -> torch.Tensor:
                return torch.zeros(())

        Incomplete()


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"kind": "bce"}, "objective.name is missing"),
        ({"name": "focal"}, "objective.name='focal'; expected one of"),
        ({"name": "deep_supervision", "lambda_cross": 0.1}, "objective.lambda_cross: not an option"),
        ({"name": "deep_supervision", "stage": "fnet"}, "has no training stages"),
        ({"name": "dmenet_bdcs"}, "trains a DMENet"),
    ],
)
def test_bad_objective_configs_say_which_key(cfg: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_objective(cfg, create_model("fpn", **tiny_overrides("fpn")))


def test_builder_takes_the_full_config_and_stages_before_the_optimiser() -> None:
    config = {
        "model": {"name": "btbnet", **tiny_overrides("btbnet")},
        "objective": {"name": "deep_supervision", "kind": "mse", "stage": "rrnet"},
    }
    model, objective = build_model_and_objective(config)
    assert objective.kind == "mse" and objective.main_weight == 1.0
    groups = model.param_groups()  # what the optimiser is given
    trained = {id(p) for g in groups.values() for p in g}
    assert trained == {id(p) for p in model.rrnet.parameters()}
    paper_model, paper = build_model_and_objective({"model": {"name": "cenet", **tiny_overrides("cenet")}})
    assert isinstance(paper, CrossEnsembleLoss) and paper_model.config["name"] == "cenet"


@pytest.mark.parametrize("key", ["objective", "loss", "stage"])
def test_training_keys_in_the_model_block_are_refused_as_network_arguments(key: str) -> None:
    from dbdzoo.engine.config.checks import check_component_options

    config = {"model": {"name": "btbnet", **tiny_overrides("btbnet"), key: "joint"}, "objective": None}
    with pytest.raises(ValueError, match=f"config model.{key}: not an argument of model 'btbnet'"):
        check_component_options(config)


def test_dmenet_objective_follows_the_network_units() -> None:
    coc = create_model("dmenet", **tiny_overrides("dmenet"), sigma_units="coc15")
    objective = build_objective({"name": "dmenet_bdcs", **TINY_DMENET_OBJECTIVE}, coc)
    assert isinstance(objective, DMENetObjective) and objective.target_units == "coc15"
    assert objective.adversary.body[0].conv.in_channels == coc.gan_channels
