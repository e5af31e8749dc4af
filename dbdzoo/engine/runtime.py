"""Process-level set-up of a run: seeds, determinism, which checkpoint to resume."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (data augmentation is seeded per sample by the loaders)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def configure_determinism(mode: str) -> None:
    """``off | warn | on``; bilinear upsampling has no deterministic CUDA backward, hence ``warn``."""
    if mode not in {"off", "warn", "on"}:
        raise ValueError(f"trainer.deterministic={mode!r}; expected off, warn or on")
    if mode != "off":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=mode == "warn")
        torch.backends.cudnn.benchmark = False


def current_experiment() -> str | None:
    """The ``experiment=`` choice of the running Hydra app (``None`` outside Hydra or without one)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return HydraConfig.get().runtime.choices.get("experiment")


def _experiment_of(run: Path) -> str | None | bool:
    """The ``experiment`` choice Hydra recorded for a past run; ``False`` when it is no Hydra run."""
    from omegaconf import OmegaConf

    saved = run / ".hydra" / "hydra.yaml"
    if not saved.is_file():
        return False
    return OmegaConf.load(saved).hydra.runtime.choices.get("experiment")


def resolve_resume(resume: str | None, run_dir: Path, experiment: str | None = None) -> Path | None:
    """``null`` → none; a path → that checkpoint; ``auto`` → the newest ``checkpoints/last.pt`` of this run.

    ``auto`` takes this run directory's own ``last.pt`` (a pinned ``hydra.run.dir``) or else the newest
    one among its siblings (``outputs/train/runs/*``, timestamped or torchrun ids) whose recorded
    ``experiment`` is the same as this run's, so ``python train.py experiment=X resume=auto`` continues
    the last run of X.
    """
    if not resume:
        return None
    if resume != "auto":
        path = Path(resume)
        if not path.is_file():
            raise FileNotFoundError(f"resume={resume!r}: no such checkpoint (use a path, auto or null)")
        return path
    own = run_dir / "checkpoints" / "last.pt"
    if own.is_file():
        return own
    siblings = [
        p / "checkpoints" / "last.pt"
        for p in (run_dir.parent.iterdir() if run_dir.parent.is_dir() else [])
        if p != run_dir and (p / "checkpoints" / "last.pt").is_file() and _experiment_of(p) == experiment
    ]
    if not siblings:
        print(
            f"resume=auto: no checkpoints/last.pt of experiment={experiment} in {run_dir.parent}/*, "
            "starting from scratch"
        )
        return None
    return max(siblings, key=lambda p: p.stat().st_mtime)


def finished_auto_resume(config: dict, run_dir: Path) -> Path | None:
    """The checkpoint ``resume=auto`` would continue when that run already reached ``trainer.max_steps``.

    Continuing it would "train" zero steps in a new run folder; the caller says so and stops instead.
    ``None`` when there is nothing finished to refuse (no ``auto``, no checkpoint, or steps left).
    """
    if config.get("resume") != "auto":
        return None
    path = resolve_resume("auto", run_dir, current_experiment())
    if path is None:
        return None
    import torch

    step = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("global_step", 0)
    return path if int(step) >= int(config["trainer"]["max_steps"]) else None
