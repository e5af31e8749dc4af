"""Type checks of the training config, run before anything is built (Hydra checks only the keys)."""

from __future__ import annotations

import difflib
import re
from numbers import Real
from pathlib import Path
from typing import Any

# dotted key -> (accepted types, description); ``None`` in the types admits null
_SCHEMA: dict[str, tuple[tuple[type, ...], str]] = {
    "seed": ((int,), "an integer"),
    "trainer.max_steps": ((int,), "a positive integer"),
    "trainer.stop_after": ((int, type(None)), "a positive integer or null"),
    "trainer.time_budget_s": ((Real, type(None)), "a positive number of seconds or null"),
    "trainer.budget_probe_steps": ((int,), "an integer of at least 5"),
    "trainer.grad_accum": ((int,), "a positive integer"),
    "trainer.val_every": ((int,), "a positive integer"),
    "trainer.ckpt_every": ((int,), "a positive integer"),
    "trainer.devices": ((int,), "a positive integer"),
    "trainer.clip_grad": ((Real, type(None)), "a positive number or null"),
    "trainer.channels_last": ((bool,), "true or false"),
    "trainer.sync_bn": ((bool,), "true or false"),
    "trainer.val_at_start": ((bool,), "true or false"),
    "trainer.ema.enabled": ((bool,), "true or false"),
    "trainer.ema.decay": ((Real,), "a number in (0, 1)"),
    "data.batch_size": ((int,), "a positive integer"),
    "data.num_workers": ((int,), "a non-negative integer"),
    "data.working_max_side": ((int, type(None)), "a positive number of pixels or null"),
    "optim.lr": ((Real,), "a positive number"),
    "optim.weight_decay": ((Real,), "a number"),
    "logger.log_every": ((int,), "a positive integer"),
}
_CHOICES = {
    "trainer.precision": ("fp32", "bf16", "fp16"),
    "trainer.deterministic": ("off", "warn", "on"),
    "trainer.compile": (
        False,
        True,
        "default",
        "reduce-overhead",
        "max-autotune",
        "max-autotune-no-cudagraphs",
    ),
    "trainer.monitor_mode": ("max", "min"),
    "data.cache": ("none", "ram"),  # the input-pipeline options: configs/data/_loading.yaml
    "data.augment_on": ("worker", "device"),
    "data.render_on": ("worker", "device"),
}
#: value ranges beyond the type (null passes where the type admits it)
_RANGES: dict[str, Any] = {
    "data.num_workers": lambda v: v >= 0,
    "trainer.ema.decay": lambda v: 0 < v < 1,
    "trainer.devices": lambda v: v >= 1,
    "trainer.clip_grad": lambda v: v > 0,
    "trainer.stop_after": lambda v: v > 0,
    "data.working_max_side": lambda v: v > 0,
    "trainer.time_budget_s": lambda v: v > 0,
    "trainer.budget_probe_steps": lambda v: v >= 5,
}
_POSITIVE = {"trainer.max_steps", "trainer.grad_accum", "trainer.val_every", "trainer.ckpt_every",
             "data.batch_size", "logger.log_every", "optim.lr"}  # fmt: skip


def _get(config: dict, dotted: str) -> tuple[bool, Any]:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def check_train_config(config: dict) -> None:
    """Raise ``ValueError`` naming the first key whose value has the wrong type or is out of range,
    is unknown (a ``+`` typo), or names a monitor validation will not report."""
    for key, (types, what) in _SCHEMA.items():
        present, value = _get(config, key)
        if not present:
            continue
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if ok and key in _POSITIVE and value is not None and value <= 0:
            ok = False
        if ok and key in _RANGES and value is not None and not _RANGES[key](value):
            ok = False
        if not ok:
            raise ValueError(f"config {key}={value!r}: expected {what}")
    for key, choices in _CHOICES.items():
        present, value = _get(config, key)
        if present and value not in choices:
            raise ValueError(f"config {key}={value!r}: expected one of {', '.join(map(str, choices))}")
    check_sizes(config)
    check_known_keys(config)
    check_monitor(config)


# -- value checks that need the whole tree --------------------------------------------------------------------
#: keys whose integer values are sizes or counts: zero or negative is always a typo
_SIZE_KEY = re.compile(r"(^|_)(size|channels|width|height|length)$")
#: config sections whose keys are fixed by their default file; anything else there is a typo
_CLOSED_SECTIONS = {
    "trainer": "trainer/default.yaml",
    "logger": "logger/default.yaml",
    "paths": "paths/default.yaml",
}
#: top-level keys besides the config groups of train.yaml's defaults list
_TOP_LEVEL_EXTRA = {"optim_adversary", "hydra"}


def check_sizes(node: Any, where: str = "") -> None:
    """Every ``*size``/``*channels``/``*width``/``*length`` integer (or list of them) must be positive."""
    if isinstance(node, dict):
        for key, value in node.items():
            dotted = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _SIZE_KEY.search(key) and _non_positive(value):
                raise ValueError(f"config {dotted}={value!r}: expected a positive size or count")
            check_sizes(value, dotted)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            check_sizes(value, f"{where}[{i}]")


def _non_positive(value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, Real) and not isinstance(v, bool) and v <= 0 for v in values)


def _known_keys(node: Any, prefix: str = "") -> set[str]:
    if not isinstance(node, dict):
        return set()
    keys = set()
    for key, value in node.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        keys.add(dotted)
        keys |= _known_keys(value, dotted)
    return keys


def check_known_keys(config: dict, configs: Path | None = None) -> None:
    """Refuse keys that no config file declares (a ``+trainer.max_step=5`` typo would be ignored)."""
    from omegaconf import OmegaConf

    if configs is None:
        from .location import config_dir

        configs = config_dir()
    for section, file in _CLOSED_SECTIONS.items():
        if not isinstance(config.get(section), dict) or not (configs / file).is_file():
            continue
        known = _known_keys(OmegaConf.to_container(OmegaConf.load(configs / file)), section)
        for key in sorted(_known_keys(config[section], section) - known):  # a parent sorts first
            raise ValueError(_unknown(key, known))
    root = OmegaConf.to_container(OmegaConf.load(configs / "train.yaml"))
    groups = {next(iter(d)) if isinstance(d, dict) else d for d in root.get("defaults", [])}
    groups = {g.split("@")[0].lstrip("/").replace("override ", "") for g in groups if isinstance(g, str)}
    known_top = (set(root) - {"defaults"}) | groups | _TOP_LEVEL_EXTRA
    for key in sorted(set(config) - known_top):
        raise ValueError(_unknown(key, known_top))


def _unknown(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"config {key}: unknown key (no config file declares it; a + override adds it unchecked){hint}"


def available_monitors(presets: list[str], ema: bool = False) -> list[str]:
    """The ``<preset>/<metric>`` keys validation will report, found by scoring one tiny map."""
    import torch

    from ...metrics import DBDEvaluator

    evaluator = DBDEvaluator(presets=list(presets))
    evaluator.update(
        torch.full((1, 1, 4, 4), 0.5), torch.tensor([[[[0, 1], [1, 0]]]]).float().repeat(1, 1, 2, 2)
    )
    keys = [f"{p}/{m}" for p, metrics in evaluator.compute().items() for m in metrics]
    return keys + ([f"ema/{k}" for k in keys] if ema else [])


def check_monitor(config: dict) -> None:
    """``trainer.monitor`` must be a metric validation reports, known before the first validation."""
    tr, data = config.get("trainer", {}), config.get("data", {})
    if "monitor" not in tr or not data.get("val"):
        return
    available = available_monitors(tr["val_presets"], ema=bool(tr.get("ema", {}).get("enabled")))
    if tr["monitor"] not in available:
        close = difflib.get_close_matches(str(tr["monitor"]), available, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ValueError(
            f"config trainer.monitor={tr['monitor']!r} is not a metric of trainer.val_presets; {hint}"
            f"available: {', '.join(available)}"
        )
