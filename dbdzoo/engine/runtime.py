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


def resolve_resume(resume: str | None, run_dir: Path) -> Path | None:
    """``null`` → none; ``auto`` → ``<run dir>/checkpoints/last.pt`` if it exists (said if not); else the path."""
    if not resume:
        return None
    if resume == "auto":
        last = run_dir / "checkpoints" / "last.pt"
        if not last.is_file():
            print(f"resume=auto: no {last} yet, starting from scratch (pin hydra.run.dir to resume a run)")
            return None
        return last
    return Path(resume)
