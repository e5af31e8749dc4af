"""Type checks of the training config, run before anything is built (Hydra checks only the keys)."""

from __future__ import annotations

from numbers import Real
from typing import Any

# dotted key -> (accepted types, description); ``None`` in the types admits null
_SCHEMA: dict[str, tuple[tuple[type, ...], str]] = {
    "seed": ((int,), "an integer"),
    "trainer.max_steps": ((int,), "a positive integer"),
    "trainer.stop_after": ((int, type(None)), "an integer or null"),
    "trainer.grad_accum": ((int,), "a positive integer"),
    "trainer.val_every": ((int,), "a positive integer"),
    "trainer.ckpt_every": ((int,), "a positive integer"),
    "trainer.devices": ((int,), "an integer"),
    "trainer.clip_grad": ((Real, type(None)), "a number or null"),
    "trainer.channels_last": ((bool,), "true or false"),
    "trainer.sync_bn": ((bool,), "true or false"),
    "trainer.val_at_start": ((bool,), "true or false"),
    "trainer.ema.enabled": ((bool,), "true or false"),
    "trainer.ema.decay": ((Real,), "a number in (0, 1)"),
    "data.batch_size": ((int,), "a positive integer"),
    "data.num_workers": ((int,), "a non-negative integer"),
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
    """Raise ``ValueError`` naming the first key whose value has the wrong type or is out of range."""
    for key, (types, what) in _SCHEMA.items():
        present, value = _get(config, key)
        if not present:
            continue
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if ok and key in _POSITIVE and value is not None and value <= 0:
            ok = False
        if not ok:
            raise ValueError(f"config {key}={value!r}: expected {what}")
    for key, choices in _CHOICES.items():
        present, value = _get(config, key)
        if present and value not in choices:
            raise ValueError(f"config {key}={value!r}: expected one of {', '.join(map(str, choices))}")
