"""Training and evaluation loops driven by Hydra configs."""

from .train import train

__all__ = ["evaluate", "train"]


def evaluate(cfg):
    """Evaluate a model or a folder of prediction maps (see ``dbdzoo.engine.evaluation``)."""
    from .evaluation import evaluate as _evaluate

    return _evaluate(cfg)
