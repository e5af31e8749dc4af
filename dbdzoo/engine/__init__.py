"""Training and evaluation loops driven by Hydra configs."""

from .config import resolvers
from .loop.fit import train

resolvers.register()  # the Hydra configs name run directories with ${dbdzoo_run_id:}

__all__ = ["evaluate", "train"]


def evaluate(cfg):
    """Evaluate a model or a folder of prediction maps (see ``dbdzoo.engine.eval.run``)."""
    from .eval.run import evaluate as _evaluate

    return _evaluate(cfg)
