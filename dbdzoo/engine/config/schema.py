"""The training config checked against its typed schemas (``sections.py``) before anything is built.

Hydra composes the YAML groups; this walks the result against the dataclasses, so a wrong type, a value
out of range, a choice not offered or an unknown key (a ``+trainer.max_step=5`` typo) is one line naming
the key, with the nearest known key as "did you mean". Nothing here reads a YAML file.
"""

from __future__ import annotations

import dataclasses
import re
import types
from numbers import Real
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ...registry import did_you_mean
from .sections import TrainSchema


def check_train_config(config: dict) -> None:
    """Raise ``ValueError`` naming the first key whose value has the wrong type or is out of range,
    is unknown (a ``+`` typo), or names a monitor validation will not report."""
    check_against(TrainSchema, config, "")
    check_sizes(config)
    check_monitor(config)


def check_against(schema: type, node: dict, where: str) -> None:
    """``node``'s keys and values against dataclass ``schema``; absent keys pass (the YAML provides them)."""
    hints = get_type_hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema)}
    if not getattr(schema, "OPEN", False):
        for key in sorted(set(node) - set(fields)):
            known = {f"{where}{name}" for name in fields}
            raise ValueError(_unknown(f"{where}{key}", known, where.rstrip(".") or "train"))
    for name, f in fields.items():
        if name not in node:
            continue
        value, hint, dotted = node[name], hints[name], f"{where}{name}"
        if dataclasses.is_dataclass(hint):
            if isinstance(value, dict):
                check_against(hint, value, f"{dotted}.")
            elif value is not None:
                raise ValueError(f"config {dotted}={value!r}: expected {expected(f, hint)}")
            continue
        check = f.metadata.get("check")
        if not _fits(value, hint) or (value is not None and check is not None and not check(value)):
            raise ValueError(f"config {dotted}={value!r}: expected {expected(f, hint)}")


def expected(f: dataclasses.Field, hint: Any) -> str:
    """What a field takes, in words: its own ``expect``, else worded from a ``bool`` or ``Literal`` type."""
    if f.metadata.get("expect"):
        return f.metadata["expect"]
    described = _describe(hint)
    if described is None:
        raise TypeError(f"schema field {f.name!r} ({hint}) needs spec(expect=...): its type does not say it")
    return described


def _describe(hint: Any) -> str | None:
    if hint is bool:
        return "true or false"
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(str(choice) for choice in get_args(hint))
    if get_origin(hint) in (Union, types.UnionType):
        rest = [arg for arg in get_args(hint) if arg is not type(None)]
        inner = _describe(rest[0]) if len(rest) == 1 else None
        return None if inner is None else f"{inner} or null"
    return None


def _fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` is of type ``hint`` (bool is no number; ``Literal`` compares type and value)."""
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return any(value == choice and type(value) is type(choice) for choice in get_args(hint))
    if origin in (Union, types.UnionType):
        return any(_fits(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, Real) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


def _unknown(key: str, known: set[str], section: str) -> str:
    return f"config {key}: unknown key (the {section} schema has no such setting){did_you_mean(key, known)}"


# -- value checks that need the whole tree --------------------------------------------------------------------
#: keys whose integer values are sizes or counts: zero or negative is always a typo
_SIZE_KEY = re.compile(r"(^|_)(size|channels|width|height|length)$")


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
        raise ValueError(
            f"config trainer.monitor={tr['monitor']!r} is not a metric of trainer.val_presets"
            f"{did_you_mean(tr['monitor'], available)} (available: {', '.join(available)})"
        )
