"""Evaluate a model or a folder of prediction maps: `python eval.py model_ref=<ref> datasets=...`."""

import hydra
from omegaconf import DictConfig

from dbdzoo.engine import evaluate


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
