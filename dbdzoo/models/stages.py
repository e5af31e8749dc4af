"""What a network with a staged training schedule declares about its structure (BTBNet, BTBCRL).

The network only names its parts and which part each output belongs to; which stage trains is a
training choice made by the objective (``objective.stage``), never a constructor argument.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import nn


@runtime_checkable
class StagedModel(Protocol):
    """A network whose parts can be trained one at a time."""

    #: stage names; ``joint`` (everything at once) first.
    stages: tuple[str, ...]

    def output_roles(self) -> tuple[str, list[str]]:
        """Stage name of the main output and of each ``aux`` entry, in order."""
        ...

    def stage_modules(self) -> dict[str, list[nn.Module]]:
        """Modules trained in each non-joint stage."""
        ...
