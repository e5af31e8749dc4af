"""Train a dbdzoo model: `python train.py experiment=<recipe> [overrides]` (no arguments: the quickstart)."""

import hydra
from omegaconf import DictConfig

from dbdzoo.engine import train


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
