"""Compose the real Hydra tree in tests, with small fast overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"

# Small settings every fast run uses: tiny images, few samples, no progress bar, no TensorBoard.
FAST = [
    "model.backbone=tiny_vgg",
    "model.decoder_channels=8",
    "data.batch_size=2",
    "data.num_workers=0",
    "data.train.size=32",
    "data.train.length=16",
    "data.val.size=32",
    "data.val.length=4",
    "trainer.max_steps=2",
    "trainer.val_every=2",
    "trainer.ckpt_every=2",
    "logger.tensorboard=false",
    "logger.log_every=1",
]


def compose_train(overrides: list[str], out_dir: Path) -> DictConfig:
    """Compose ``configs/train.yaml`` like ``python train.py`` would, with the run dir set to ``out_dir``."""
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*overrides, f"paths.output_dir={out_dir}"])
    OmegaConf.set_struct(cfg, False)
    return cfg


@pytest.fixture
def fast_cfg(tmp_path):
    def make(*extra: str, out: str = "run") -> DictConfig:
        return compose_train([*FAST, *extra], tmp_path / out)

    return make


@pytest.fixture
def compose_overrides():
    """``compose_train`` as a fixture (test modules cannot import conftest by name)."""
    return compose_train
