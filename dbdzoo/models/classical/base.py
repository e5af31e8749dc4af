"""The shared shell of non-learned (classical) methods under the model contract.

A classical method has no parameters, needs no padding and computes a probability map directly, so this
base turns that map into the contract's blur logit and makes ``predict`` work without a parameter to
read the device from. Training code refuses it (``trainable = False``; the optimiser finds nothing to
optimise), and the all-model tests skip what only makes sense for networks (export, training steps).
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

import numpy as np
import torch

from ..base import DBDModel
from ..output import ModelOutput

#: probabilities are clamped to [EPS, 1 − EPS] before the logit: 0 and 1 (common in min-max normalised
#: maps) would give ±inf logits, and sigmoid(logit(p)) then returns p to float32 precision.
EPS = 1e-6


class ClassicalModel(DBDModel, metaclass=ABCMeta):
    """Base of classical methods: ``blur_probability`` in, ``ModelOutput`` with a finite logit out.

    Subclasses implement ``blur_probability(rgb)`` on RGB in [0, 1] (B×3×H×W, any H, W) returning the
    canonical-polarity map (1 = blurred) B×1×H×W in [0, 1].
    """

    #: no learned parameters: training, export and hub uploads do not apply (tests read this).
    trainable: bool = False

    def __init__(self) -> None:
        super().__init__(norm_preset="none", input_multiple=1)
        # an empty buffer so that ``.to(device)`` tells predict() where to compute
        self.register_buffer("_device_anchor", torch.zeros(0), persistent=False)

    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        prob = self.blur_probability(x.float())
        logits = torch.logit(prob.clamp(EPS, 1 - EPS))
        return ModelOutput(logits=logits, aux=[], extras={"probability": prob})

    @abstractmethod
    def blur_probability(self, rgb: torch.Tensor) -> torch.Tensor:
        """Blur probability B×1×H×W (1 = blurred) for RGB in [0, 1]; every method defines it."""

    def predict(self, images: Any) -> Any:
        """As ``DBDModel.predict``; computes on the device the method was moved to."""
        from ..inputs import tensor_input, to_rgb_float

        device = self._device_anchor.device
        if isinstance(images, torch.Tensor):
            out = self.predict_tensor(tensor_input(images).to(device))
            return out[0] if images.ndim == 3 else out
        single = not isinstance(images, list | tuple)
        outs = []
        for image in [images] if single else images:
            x = torch.from_numpy(np.ascontiguousarray(to_rgb_float(image))).to(device).permute(2, 0, 1)[None]
            outs.append(self.predict_tensor(x)[0, 0].cpu().numpy())
        return outs[0] if single else outs


#: MATLAB ``rgb2gray`` weights (the inverse NTSC transform), applied to 8-bit values and rounded.
MATLAB_GREY = (0.298936021293775, 0.587043074451121, 0.114020904255103)


def to_uint8_levels(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] → float 0–255 integer levels, as the authors' code reads 8-bit files."""
    return torch.floor(rgb.clamp(0, 1) * 255 + 0.5)


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """MATLAB's ``round`` (and uint8 casts) for non-negative values: halves go up, not to even."""
    return torch.floor(x + 0.5)


def matlab_grey(levels: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2gray`` of 8-bit RGB levels (B×3×H×W floats 0–255) → B×1×H×W uint8 levels."""
    w = torch.tensor(MATLAB_GREY, dtype=torch.float64, device=levels.device).view(1, 3, 1, 1)
    return round_half_up((levels.double() * w).sum(1, keepdim=True))


def min_max(x: torch.Tensor, dims: tuple[int, ...] = (-2, -1)) -> torch.Tensor:
    """MATLAB ``mat2gray`` per map: (x − min) / (max − min); a constant map becomes 0."""
    lo = x.amin(dim=dims, keepdim=True)
    span = x.amax(dim=dims, keepdim=True) - lo
    return torch.where(span > 0, (x - lo) / span.clamp_min(torch.finfo(x.dtype).tiny), torch.zeros_like(x))
