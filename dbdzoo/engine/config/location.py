"""Where the Hydra configs live: the checkout's ``configs/`` or the copy a wheel ships as ``dbdzoo/configs``."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[2]


def config_dir() -> Path:
    """The Hydra tree: ``dbdzoo/configs`` in an installed wheel, else the checkout's ``configs/``."""
    for candidate in (_PACKAGE / "configs", _PACKAGE.parent / "configs"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"no Hydra configs found in {_PACKAGE / 'configs'} or {_PACKAGE.parent / 'configs'}; "
        "reinstall dbdzoo (pip install dbdzoo) or run from a checkout"
    )
