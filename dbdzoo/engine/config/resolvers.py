"""OmegaConf resolvers the Hydra configs use (registered when ``dbdzoo.engine`` is imported)."""

from __future__ import annotations

import os
from datetime import datetime

from omegaconf import OmegaConf


def run_id() -> str:
    """One name per run that every torchrun rank agrees on: the rendezvous id, else a timestamp.

    torchrun sets ``TORCHELASTIC_RUN_ID`` to a fresh id with ``--standalone`` (or a given ``--rdzv-id``)
    and to ``"none"`` for static launches; timestamps could differ between ranks, so a distributed run
    without an id must name its directory explicitly.
    """
    rid = os.environ.get("TORCHELASTIC_RUN_ID", "")
    if rid and rid != "none":
        return rid
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(
            "torchrun was started without a rendezvous id, so the ranks cannot agree on a run directory: "
            "add --standalone (one node) or --rdzv-id=<name>, or pass hydra.run.dir=<folder>"
        )
    # microseconds: two runs started in the same second get two folders (the run lock guards the rest)
    return datetime.now().strftime("%Y-%m-%d_%H-%M-%S_%f")


def register() -> None:
    # cached: every read of hydra.run.dir / sweep.dir in one process sees the same id (as Hydra's ${now:})
    OmegaConf.register_new_resolver("dbdzoo_run_id", run_id, replace=True, use_cache=True)
