"""The one check of the model, objective, dataset, optimiser and schedule options, and the data roots.

Runs before anything is built, so a typo (``+model.decoder_chanels=8``) or a missing folder costs one
line naming the key, not a model build or a DataLoader worker's traceback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...losses import OBJECTIVES, AdversarialObjective, objective_options
from ...models import MODELS
from ...registry import accepted_options, did_you_mean, returned_class
from ..optim import OPTIMIZER_OPTIONS, SCHEDULE_OPTIONS, check_options
from ..pipeline_options import check_cache_fits, check_speed_options, labelled_train_specs


def _refuse_unknown(keys: set[str], accepted: set[str] | None, where: str, what: str) -> None:
    if accepted is None:  # the factory takes anything; it checks its own options
        return
    for key in sorted(keys - accepted):
        hint = did_you_mean(key, accepted, prefix=f"{where}.")
        raise ValueError(f"config {where}.{key}: not an argument of {what}{hint}")


def _check_objective(objective: dict[str, Any], tr: dict[str, Any]) -> None:
    """The objective's name and options, and the loop settings an adversarial objective cannot take."""
    if not objective:
        return  # null: the model's paper objective, declared with the objectives
    kind = objective.pop("name", None)
    if kind not in OBJECTIVES:
        raise ValueError(f"config objective.name={kind!r}: expected one of {', '.join(OBJECTIVES.names())}")
    _refuse_unknown(set(objective), objective_options(kind), "objective", f"objective {kind!r}")
    built = returned_class(OBJECTIVES.get(kind))
    if built is not None and issubclass(built, AdversarialObjective):
        first = objective.get("adversary_first", built.adversary_first)
        if first and int(tr.get("grad_accum", 1)) > 1:
            raise ValueError(
                f"config trainer.grad_accum={tr['grad_accum']}: objective {kind!r} steps its adversary before "
                "the generator on every micro-batch, so accumulation would update it grad_accum times per "
                "step; use trainer.grad_accum=1 (or objective.adversary_first=false)"
            )


def check_component_options(config: dict[str, Any]) -> None:
    """Every model, objective, dataset, optimiser and schedule key names an argument its factory takes.

    Runs before anything is built, so a typo (``+model.decoder_chanels=8``) costs one line, not a model
    build or a DataLoader worker's traceback.
    """
    from ...data.base import DATASETS

    model_cfg = dict(config["model"])
    name = model_cfg.pop("name", None)
    if name not in MODELS:
        raise ValueError(f"config model.name={name!r}: expected one of {', '.join(MODELS.names())}")
    _refuse_unknown(set(model_cfg), accepted_options(MODELS.get(name)), "model", f"model {name!r}")
    network = returned_class(MODELS.get(name))
    tr = config.get("trainer") or {}
    if tr.get("sync_bn") and network is not None and not network.sync_bn_supported(model_cfg):
        raise ValueError(
            f"config trainer.sync_bn=true: model {name!r} as configured has norm layers SyncBatchNorm "
            "would drop parameters of; train it with trainer.sync_bn=false"
        )
    _check_objective(dict(config.get("objective") or {}), tr)
    data = config.get("data") or {}
    specs = labelled_train_specs(data)
    if data.get("val"):
        specs["data.val"] = data["val"]
    for where, spec in specs.items():
        reader = str(spec.get("name", ""))
        for part in reader.split("+"):
            if part.strip() not in DATASETS:
                raise ValueError(
                    f"config {where}.name={reader!r}: unknown dataset {part.strip()!r}; "
                    f"expected one of {', '.join(DATASETS.names())} (or parts joined by +)"
                )
        if reader in DATASETS:  # compositions (cuhk+dut) route options to their parts when built
            options = set(spec) - {"name", "transform"}
            _refuse_unknown(options, accepted_options(DATASETS.get(reader)), where, f"dataset {reader!r}")
    check_speed_options(data)
    check_options(config["optim"], "optim", OPTIMIZER_OPTIONS)
    if config.get("optim_adversary"):
        check_options(config["optim_adversary"], "optim_adversary", OPTIMIZER_OPTIONS)
    check_options(config["sched"], "sched", SCHEDULE_OPTIONS)


def check_dataset_root(spec: dict[str, Any], where: str) -> None:
    """Fail before the model is built when a configured dataset root does not exist (or, for a
    ``folder`` dataset, when ``positive`` is not declared).

    ``root`` may be one folder, a list, or a ``{part: folder}`` mapping (composed datasets such as
    ``cuhk+dut``); every folder is checked.
    """
    if "folder" in str(spec.get("name", "")).split("+") and spec.get("positive") not in ("blur", "in_focus"):
        raise ValueError(  # the reader would say so too, but only after the model has been built
            f"{where}.positive={spec.get('positive')!r}: declare what white means in the masks, "
            f"{where}.positive=blur or {where}.positive=in_focus"
        )
    root = spec.get("root")
    if isinstance(root, Mapping):
        folders = {f"{where}.root.{part}": folder for part, folder in root.items()}
    elif isinstance(root, Sequence) and not isinstance(root, str):
        folders = {f"{where}.root[{i}]": folder for i, folder in enumerate(root)}
    else:
        folders = {f"{where}.root": root}
    for key, folder in folders.items():
        if folder is not None and not Path(folder).exists():
            raise FileNotFoundError(
                f"{key}={folder!r} does not exist; see docs/datasets.md for the expected layout"
            )


def check_data_roots(data_cfg: dict[str, Any]) -> None:
    """Check every training domain's and the validation set's root before anything is built.

    With ``data.cache=ram`` the training sets are also listed (headers read, one item decoded) to refuse
    a cache that would not fit in memory now, not after the model is built.
    """
    for where, spec in labelled_train_specs(data_cfg).items():
        check_dataset_root(spec, where)
    if data_cfg.get("val"):
        check_dataset_root(data_cfg["val"], "data.val")
    check_cache_fits(data_cfg)
