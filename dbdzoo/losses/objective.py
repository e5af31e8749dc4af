"""The declared interface between a network and the training loop: ``Objective`` and ``AdversarialObjective``.

The loop calls ``objective(model, batch)`` and back-propagates ``result["loss"]``; every other entry is
logged. The objective drives the forward pass itself, so a network that needs several forwards per step
(DMENet's three data domains) needs no special case in the loop. An objective with a second player
subclasses ``AdversarialObjective``: the loop recognises it with ``isinstance`` and steps its
``adversary`` with its own optimiser. The network never sees any of this (dependencies run one way: models ← losses ← engine).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import nn

from ..models.output import ModelOutput

ModelFn = Callable[[torch.Tensor], ModelOutput]


class Objective(nn.Module, ABC):
    """Base objective: one forward on ``batch["image"]``, then ``criterion(output, batch)``.

    Subclasses override ``criterion`` (the usual case) or ``forward`` (several forwards per step).
    Parameters an objective registers outside ``adversary`` (e.g. DMENet's calibration net) are trained
    with the network by the network's optimiser.
    """

    #: ``False`` when the objective runs the network several times per step: DDP must then keep each
    #: rank's BatchNorm buffers instead of broadcasting rank 0's before every forward.
    ddp_broadcast_buffers: bool = True

    def forward(self, model: ModelFn, batch: dict) -> dict[str, torch.Tensor]:
        return self.criterion(model(batch["image"]), batch)

    def criterion(self, output: ModelOutput, batch: dict) -> dict[str, torch.Tensor]:
        """Losses of one forward; subclasses that keep the default ``forward`` must provide it."""
        raise TypeError(f"{type(self).__name__} must define criterion() or override forward()")


class AdversarialObjective(Objective):
    """An objective with a discriminator: ``adversary`` (a registered submodule) and its two losses.

    The loop optimises ``adversary`` with its own optimiser on ``adversary_loss()``, computed from what
    ``forward`` cached (detached). With ``adversary_first`` the loop steps the adversary *before* the
    generator and then adds ``generator_adversary_loss()`` (against the updated adversary) to the
    generator's loss; otherwise ``forward`` already includes the generator's adversarial term.
    """

    #: the discriminator; subclasses assign it in ``__init__`` (an annotation only: a class-level value
    #: would shadow the registered submodule).
    adversary: nn.Module
    #: step the adversary before the generator (DMENet's original order).
    adversary_first: bool = False

    @abstractmethod
    def adversary_loss(self) -> torch.Tensor:
        """The discriminator's loss on the features the last ``forward`` cached."""

    @abstractmethod
    def generator_adversary_loss(self) -> torch.Tensor:
        """The generator's weighted adversarial term against the just-updated adversary (``adversary_first``)."""
