"""Typed schemas of the run's config sections: trainer, data, optim, sched, logger, paths, the top level.

The YAML groups (``configs/trainer/``, ``configs/data/``, ...) hold the values and their defaults; these
dataclasses hold what each key may be (its type, its choices, its range, in ``Literal`` and ``expect``),
so a value is described once. ``config.schema`` checks a composed config against them, with dbdzoo's
one-line messages. Model, objective, dataset, optimiser and schedule options are the factories' own
(``config.checks``), and a section typed ``Any`` is open (its keys belong to those factories).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal


def spec(expect: str | None = None, check: Callable[[Any], bool] | None = None) -> Any:
    """A required schema field (the value comes from YAML): ``expect`` words the type for messages (left
    out, ``config.schema`` words a ``bool`` or ``Literal`` from the type itself), ``check`` is the range
    beyond the type (``None`` passes where the type admits null)."""
    return field(metadata={"expect": expect, "check": check})


def positive(v: Any) -> bool:
    return v > 0


Compile = Literal[False, True, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]


@dataclass
class EmaSchema:
    enabled: bool = spec()
    decay: float = spec("a number in (0, 1)", lambda v: 0 < v < 1)


@dataclass
class TrainerSchema:
    """``configs/trainer/*.yaml``: the loop's own settings."""

    max_steps: int = spec("a positive integer", positive)
    stop_after: int | None = spec("a positive integer or null", positive)
    time_budget_s: float | None = spec("a positive number of seconds or null", positive)
    budget_probe_steps: int = spec("an integer of at least 5", lambda v: v >= 5)
    init_from: str | None = spec("a weights file, folder or registry name, or null")
    device: str = spec("auto, cpu, cuda or cuda:N")
    devices: int = spec("a positive integer", lambda v: v >= 1)
    precision: Literal["fp32", "bf16", "fp16"] = spec()
    channels_last: bool = spec()
    compile: Compile = spec()
    grad_accum: int = spec("a positive integer", positive)
    clip_grad: float | None = spec("a positive number or null", positive)
    sync_bn: bool = spec()
    deterministic: Literal["off", "warn", "on"] = spec()
    ema: EmaSchema = spec("a mapping")
    val_every: int = spec("a positive integer", positive)
    val_at_start: bool = spec()
    val_batches: int | None = spec("a positive integer or null", positive)
    ckpt_every: int = spec("a positive integer", positive)
    monitor: str = spec("<preset>/<metric>")
    monitor_mode: Literal["max", "min"] = spec()
    val_presets: list = spec("a list of metric presets")


@dataclass
class DataSchema:
    """``configs/data/*.yaml``'s own keys (with ``_loading.yaml``'s); the dataset specs are the readers'."""

    batch_size: int = spec("a positive integer", positive)
    num_workers: int = spec("a non-negative integer", lambda v: v >= 0)
    val_batch_size: int | None = spec("a positive integer or null", positive)
    cache: Literal["none", "ram"] = spec()
    augment_on: Literal["worker", "device"] = spec()
    render_on: Literal["worker", "device"] = spec()
    working_max_side: int | None = spec("a positive number of pixels or null", positive)
    train: Any = spec("a dataset spec or null")
    val: Any = spec("a dataset spec or null")
    domains: Any = spec("dataset specs by domain or null")
    domain_batch_size: Any = spec("batch sizes by domain or null")


@dataclass
class OptimSchema:
    """``configs/optim/*.yaml``: the values every optimiser takes; its other options are the optimiser's own
    (``optim.OPTIMIZER_OPTIONS``, checked in ``config.checks``)."""

    OPEN: ClassVar[bool] = True
    lr: float = spec("a positive number", positive)
    weight_decay: float = spec("a number")


@dataclass
class SchedSchema:
    """``configs/sched/*.yaml``: the warm-up every schedule has; the rest is the schedule's own
    (``optim.SCHEDULE_OPTIONS``, checked in ``config.checks``)."""

    OPEN: ClassVar[bool] = True
    warmup_steps: int = spec("a non-negative integer", lambda v: v >= 0)


@dataclass
class LoggerSchema:
    """``configs/logger/default.yaml``."""

    tensorboard: bool = spec()
    log_every: int = spec("a positive integer", positive)
    progress_bar: bool = spec()


@dataclass
class PathsSchema:
    """``configs/paths/default.yaml``: folders, checked for existence where they are used."""

    root_dir: str = spec("a folder")
    data_dir: str = spec("a folder")
    photos_dir: str = spec("a folder")
    cuhk_dir: str = spec("a folder")
    log_dir: str = spec("a folder")
    output_dir: str | None = spec("a folder")


@dataclass
class TrainSchema:
    """``configs/train.yaml``: the groups of its defaults list and its own top-level keys."""

    task_name: str = spec("a name")
    seed: int = spec("an integer")
    resume: str | None = spec("null, auto or a checkpoint path")
    overwrite: bool = spec()
    validate_at_end: bool = spec()
    model: Any = spec("a model config")
    objective: Any = spec("an objective config or null")
    data: DataSchema = spec("a data config")
    optim: OptimSchema = spec("an optimiser config")
    optim_adversary: Any = spec("an optimiser config for the adversary, or null")
    sched: SchedSchema = spec("a schedule config")
    trainer: TrainerSchema = spec("a trainer config")
    logger: LoggerSchema = spec("a logger config")
    paths: PathsSchema = spec("a paths config")
    hydra: Any = spec("Hydra's own settings")
