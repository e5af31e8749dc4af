"""``dbdzoo train ...``: the Hydra app of ``train.py``, also in a pip install without a checkout.

Every argument is a Hydra override; ``--help`` and ``--cfg job`` behave as for ``python train.py``.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Compose ``configs/train.yaml`` with ``argv`` and run it; user errors exit 1 with one line."""
    from ..engine.entry import main as hydra_main

    hydra_main("train", list(argv))
    return 0
