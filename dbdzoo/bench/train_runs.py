"""Short ``train.py`` runs for the training benchmarks: the real entry point, read back from its logs."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


class TrainRunError(RuntimeError):
    """``train.py`` exited non-zero; the message is its one-line error (else its last stderr line)."""


def run_train_steps(
    overrides: list[str], repo: Path, timeout_s: float = 1800
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``python train.py <overrides>`` in a temporary run folder, without validation or TensorBoard.

    Returns the logged ``train.jsonl`` rows and the resolved config the run used. A run still going after
    ``timeout_s`` is killed (its DataLoader workers follow their parent) and reported, so a stuck
    benchmark cannot hold a machine; benchmark runs take seconds to a few minutes.
    """
    from omegaconf import OmegaConf

    with tempfile.TemporaryDirectory() as run:
        cmd = [sys.executable, "train.py", "trainer.val_at_start=false", "validate_at_end=false",
               "logger.tensorboard=false", f"hydra.run.dir={run}", *overrides]  # fmt: skip
        try:
            proc = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise TrainRunError(
                f"train.py {' '.join(overrides)}: still running after {timeout_s:g} s; killed"
            ) from None
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or ["?"]
            raise TrainRunError(next((x for x in lines if x.startswith("train: ")), lines[-1])[:200])
        lines = (Path(run) / "metrics" / "train.jsonl").read_text().splitlines()
        config = OmegaConf.to_container(OmegaConf.load(Path(run) / ".hydra" / "config.yaml"), resolve=False)
    return [json.loads(line) for line in lines], config


def median_images_per_s(rows: list[dict[str, Any]]) -> float:
    """Median throughput of the logged rows, skipping the first (warm-up) when there are more."""
    return statistics.median([r["images_per_s"] for r in rows[1:]] or [rows[0]["images_per_s"]])
