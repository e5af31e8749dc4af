"""The typed output every dbdzoo network returns."""

from __future__ import annotations

from typing import NamedTuple

import torch


class ModelOutput(NamedTuple):
    """What ``forward`` returns (output contract).

    A ``NamedTuple`` rather than a dataclass because torch.compile, torch.export and DDP all treat it
    as a pytree out of the box.

    Attributes:
        logits: B×1×H×W blur logit at input resolution (1 = blurred after the sigmoid). For DMENet the
            logit of the normalised defocus map.
        aux: side-output logits for deep supervision (each B×1×h×w; any resolution), empty if none.
        extras: model-specific tensors (CENet detector maps, DMENet decoder feature, ...).
    """

    logits: torch.Tensor
    aux: list[torch.Tensor]
    extras: dict[str, torch.Tensor]
