"""The one interface between a network and the training loop.

A model supplies an ``Objective`` through ``model.build_objective(**cfg)``. The loop calls
``objective(model, batch)`` and back-propagates ``result["loss"]``; every other entry is logged. The
objective drives the forward pass itself, so a network that needs several forwards per step (DMENet's
three data domains) or a second player (its domain discriminator, exposed as ``adversary`` with its own
``adversary_loss``) needs no special case in the loop.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..models.output import ModelOutput

ModelFn = Callable[[torch.Tensor], ModelOutput]


class Objective(nn.Module):
    """Base objective: one forward on ``batch["image"]``, then ``criterion(output, batch)``.

    Subclasses override ``criterion`` (the usual case) or ``forward`` (several forwards per step).
    An objective with a discriminator registers it as the submodule ``self.adversary`` (the loop
    optimises it with its own optimiser) and implements ``adversary_loss()``, called after the
    generator step on whatever the forward cached (detached). No class-level default: a class
    attribute would shadow the registered submodule; use ``adversary_of(objective)`` to read it.
    """

    def forward(self, model: ModelFn, batch: dict) -> dict[str, torch.Tensor]:
        return self.criterion(model(batch["image"]), batch)

    def criterion(self, output: ModelOutput, batch: dict) -> dict[str, torch.Tensor]:
        """Losses of one forward; subclasses that keep the default ``forward`` must provide it."""
        raise TypeError(f"{type(self).__name__} must define criterion() or override forward()")


def adversary_of(objective: nn.Module) -> nn.Module | None:
    """The objective's discriminator, or ``None`` for single-player objectives."""
    return getattr(objective, "adversary", None)
