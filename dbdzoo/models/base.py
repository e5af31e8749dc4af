"""The small base class that carries the model contract (DESIGN.md contracts 2 and 3).

It owns what every network shares and nothing else: the normalisation buffers, the input check that
names the padded size, ``predict()`` for uint8 images of any size, and the default training objective.
Architectures implement ``forward_normalized``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .normalize import Normalize
from .output import ModelOutput


class DBDModel(nn.Module, ABC):
    """Base class of every registered network.

    Args:
        norm_preset: input normalisation the weights expect (``imagenet_rgb`` | ``caffe_bgr`` | ``none``).
        input_multiple: H and W must be multiples of this (the network's total stride); ``predict``
            pads to it automatically.
    """

    #: class of the native positive in the original paper ("blur" | "in_focus"); dbdzoo always predicts blur.
    native_positive: str = "blur"
    #: "dbd" for blur masks, "dme" for defocus maps (decides what predict/eval report).
    task: str = "dbd"

    def __init__(self, norm_preset: str = "imagenet_rgb", input_multiple: int = 32) -> None:
        super().__init__()
        self.normalize = Normalize(norm_preset)
        self.input_multiple = input_multiple
        self.config: dict[str, Any] = {}

    # -- contract -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> ModelOutput:
        """Run the network on RGB in [0, 1] (B×3×H×W, H and W multiples of ``input_multiple``)."""
        if not torch.compiler.is_compiling():  # shape checks would become export guards
            self.check_input(x)
        return self.forward_normalized(self.normalize(x))

    @abstractmethod
    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        """The architecture proper, on normalised input."""

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ``ValueError`` that says what was expected when ``x`` cannot be processed."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__} expects a B×3×H×W tensor, got {shape}")
        if x.shape[1] != 3:
            raise ValueError(
                f"{type(self).__name__} expects 3 RGB channels in [0, 1], got {x.shape[1]} channels"
            )
        if not x.is_floating_point():
            raise ValueError(f"{type(self).__name__} expects a float tensor in [0, 1], got {x.dtype}")
        h, w = x.shape[-2:]
        m = self.input_multiple
        if h % m or w % m:
            ph, pw = -(-h // m) * m, -(-w // m) * m
            raise ValueError(
                f"{type(self).__name__} needs H and W divisible by {m}, got {h}×{w}; pad to {ph}×{pw} "
                "(or use model.predict(), which pads and crops back)"
            )

    # -- inference -------------------------------------------------------------------------------
    def postprocess(self, logits: torch.Tensor) -> torch.Tensor:
        """Map the main logit to the output map (blur probability; DMENet: normalised defocus)."""
        return torch.sigmoid(logits)

    @torch.inference_mode()
    def predict_tensor(self, x: torch.Tensor, pad_mode: str = "replicate") -> torch.Tensor:
        """Blur maps for a float B×3×H×W batch in [0, 1] of any size: pads, runs, crops back."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"predict_tensor expects B×3×H×W, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        m = self.input_multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode=pad_mode)
        return self.postprocess(self(x).logits.float())[..., :h, :w]

    def predict(self, images: np.ndarray | list[np.ndarray] | torch.Tensor) -> Any:
        """Blur-probability maps (1 = blurred) at each image's original size.

        Args:
            images: one uint8 H×W×3 RGB array, a list of them (sizes may differ), or a float tensor
                B×3×H×W in [0, 1].

        Returns:
            float32 H×W array(s) in [0, 1] for numpy input, a B×1×H×W tensor for tensor input.
        """
        was_training = self.training
        self.eval()
        try:
            if isinstance(images, torch.Tensor):
                return self.predict_tensor(images)
            single = isinstance(images, np.ndarray)
            outs = [self._predict_array(im) for im in ([images] if single else images)]
            return outs[0] if single else outs
        finally:
            self.train(was_training)

    def _predict_array(self, image: np.ndarray) -> np.ndarray:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"predict expects uint8 H×W×3 RGB arrays, got {image.dtype} {image.shape}")
        device = next(self.parameters()).device
        x = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float() / 255
        return self.predict_tensor(x)[0, 0].cpu().numpy()

    # -- hub (implemented in dbdzoo.hub; imported lazily so the model package stays light) -------------
    def save_pretrained(self, save_directory: str, **kwargs: Any) -> Any:
        """Write ``config.json``, ``model.safetensors`` and a model card (see ``dbdzoo.hub.save_pretrained``)."""
        from ..hub import save_pretrained

        return save_pretrained(self, save_directory, **kwargs)

    @classmethod
    def from_pretrained(cls, ref: str, **kwargs: Any) -> DBDModel:
        """Load a ``save_pretrained`` folder or Hub repo id; ``FPN.from_pretrained`` also checks the class."""
        from ..hub import from_pretrained

        model = from_pretrained(ref, **kwargs)
        if not isinstance(model, cls):
            raise TypeError(
                f"{ref} holds a {type(model).__name__}, not a {cls.__name__}; use DBDModel.from_pretrained"
            )
        return model

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload a ``save_pretrained`` folder to the Hugging Face Hub (see ``dbdzoo.hub.push_to_hub``)."""
        from ..hub import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

    # -- training ---------------------------------------------------------------------------------
    def build_objective(self, **kwargs) -> nn.Module:
        """The loss this network trains with; default: BCE deep supervision on logits and aux."""
        from ..losses import DeepSupervisionLoss

        return DeepSupervisionLoss(**kwargs)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters split by role so optimiser configs can give them different learning rates."""
        backbone = getattr(self, "backbone", None)
        bb = {id(p) for p in backbone.parameters()} if isinstance(backbone, nn.Module) else set()
        groups: dict[str, list[nn.Parameter]] = {"backbone": [], "head": []}
        for p in self.parameters():
            if p.requires_grad:
                groups["backbone" if id(p) in bb else "head"].append(p)
        return groups
