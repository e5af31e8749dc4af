"""``dbdzoo eval ...``: the Hydra app of ``eval.py``, also in a pip install without a checkout.

Every argument is a Hydra override; ``--help`` and ``--cfg job`` behave as for ``python eval.py``.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Compose ``configs/eval.yaml`` with ``argv`` and run it; user errors exit 1 with one line."""
    from ..engine.entry import main as hydra_main

    hydra_main("eval", list(argv))
    return 0
