"""Turn config groups into objects: model + objective, datasets and loaders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn
from torch.utils.data import Dataset

from ..models import DBDModel, create_model
from .dist import DistContext
from .loaders import BatchStream, make_loader


def build_model(model_cfg: dict[str, Any]) -> tuple[DBDModel, nn.Module]:
    """``model`` group → (network, its objective). Every key except ``name``/``objective`` is a kwarg."""
    kwargs = dict(model_cfg)
    name = kwargs.pop("name")
    objective_kwargs = kwargs.pop("objective", None) or {}
    model = create_model(name, **kwargs)
    return model, model.build_objective(**objective_kwargs)


def model_config_of(model_cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``create_model`` arguments (what a checkpoint needs to rebuild the architecture)."""
    return {k: v for k, v in model_cfg.items() if k != "objective"}


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
    """Check every training domain's and the validation set's root before anything is built."""
    for domain, spec in train_specs(data_cfg).items():
        check_dataset_root(spec, "data.train" if domain == "main" else f"data.domains.{domain}")
    if data_cfg.get("val"):
        check_dataset_root(data_cfg["val"], "data.val")


def build_dataset(spec: dict[str, Any]) -> Dataset:
    """A dataset spec ``{name, root, split, transform: {recipe, size, ...}, **reader kwargs}``."""
    from ..data import build_transform, create_dataset

    spec = dict(spec)
    name = spec.pop("name")
    transform_cfg = spec.pop("transform", None)
    transform = build_transform(**transform_cfg) if transform_cfg else None
    return create_dataset(
        name, root=spec.pop("root", None), split=spec.pop("split", "train"), transform=transform, **spec
    )


def train_specs(data_cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Training dataset specs by domain: ``{"main": train}`` or the ``domains`` mapping (DMENet)."""
    if data_cfg.get("domains"):
        return dict(data_cfg["domains"])
    if not data_cfg.get("train"):
        raise ValueError("data.train (or data.domains) must name a training dataset")
    return {"main": data_cfg["train"]}


def build_train_streams(data_cfg: dict[str, Any], ctx: DistContext, seed: int) -> dict[str, BatchStream]:
    """One endless batch stream per training domain."""
    streams = {}
    batch = data_cfg["batch_size"]
    domain_batch = data_cfg.get("domain_batch_size") or {}
    for i, (domain, spec) in enumerate(train_specs(data_cfg).items()):
        loader, sampler = make_loader(
            build_dataset(spec),
            batch_size=domain_batch.get(domain, batch),
            shuffle=True,
            seed=seed + 7919 * i,
            rank=ctx.rank,
            world_size=ctx.world_size,
            num_workers=data_cfg.get("num_workers", 0),
            pin_memory=ctx.device.type == "cuda",
            train=True,
        )
        streams[domain] = BatchStream(loader, sampler)
    return streams


def build_val_loader(data_cfg: dict[str, Any], ctx: DistContext, seed: int):
    """The validation loader (sharded across ranks without padding), or ``None``."""
    spec = data_cfg.get("val")
    if not spec:
        return None
    loader, _ = make_loader(
        build_dataset(spec),
        batch_size=data_cfg.get("val_batch_size") or data_cfg["batch_size"],
        shuffle=False,
        seed=seed,
        rank=ctx.rank,
        world_size=ctx.world_size,
        num_workers=data_cfg.get("num_workers", 0),
        pin_memory=ctx.device.type == "cuda",
        train=False,
    )
    return loader
