"""Turn config groups into objects: model + objective (two groups), datasets and loaders.

The configs are checked before (``engine.config.checks``): what arrives here is known to be valid.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from ..losses import Objective, build_objective
from ..models import DBDModel, build_model
from .dist import DistContext
from .loaders import BatchStream, DeviceAugmentStream, Stream, make_loader
from .pipeline_options import cacheable, ram_cached, rendered, speed_options, train_specs


def build_model_and_objective(config: dict[str, Any]) -> tuple[DBDModel, Objective]:
    """The network from ``config["model"]``, then its objective from ``config["objective"]``.

    The objective is built second, and before any optimiser: a staged objective (``objective.stage``)
    freezes the network's other parts, so ``model.param_groups()`` then holds only what trains. A
    missing or null ``objective`` gives the model's paper objective.
    """
    model_cfg = dict(config["model"])
    model = build_model(model_cfg.pop("name"), **model_cfg)
    return model, build_objective(config.get("objective"), model)


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


def build_train_streams(data_cfg: dict[str, Any], ctx: DistContext, seed: int) -> dict[str, Stream]:
    """One endless batch stream per training domain, honouring ``data.cache/augment_on/render_on``."""
    from ..data import build_transform, create_dataset
    from ..data.device_augment import DeviceAugment, device_collate

    options, streams = speed_options(data_cfg), {}
    batch, workers = data_cfg["batch_size"], data_cfg.get("num_workers", 0)
    domain_batch = data_cfg.get("domain_batch_size") or {}
    for i, (domain, spec) in enumerate(train_specs(data_cfg).items()):
        size, domain_seed = domain_batch.get(domain, batch), seed + 7919 * i
        if rendered(spec, options):  # the renderer's batches are born on the device: no loader at all
            from ..data.synthetic.device_stream import DeviceRenderStream

            streams[domain] = DeviceRenderStream(
                dict(spec), batch_size=size, seed=domain_seed, rank=ctx.rank,
                world_size=ctx.world_size, device=ctx.device,
            )  # fmt: skip
            continue
        spec = dict(spec)
        name, tf_cfg = spec.pop("name"), spec.pop("transform", None)
        transform, augment = build_transform(**tf_cfg) if tf_cfg else None, None
        if transform is not None and options["augment_on"] == "device":
            transform, augment = DeviceAugment.split(transform)
        dataset = create_dataset(
            name, root=spec.pop("root", None), split=spec.pop("split", "train"), transform=transform, **spec
        )
        if options["cache"] == "ram" and cacheable({"name": name}):
            dataset = ram_cached(dataset, workers)
        stream = BatchStream(
            dataset, batch_size=size, seed=domain_seed, rank=ctx.rank, world_size=ctx.world_size,
            num_workers=workers, pin_memory=ctx.device.type == "cuda",
            collate_fn=device_collate if augment is not None else None,
        )  # fmt: skip
        streams[domain] = DeviceAugmentStream(stream, augment, ctx.device) if augment is not None else stream
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
