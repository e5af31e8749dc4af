"""The small base class that carries the model contract (input and output contracts).

It owns what every network shares and nothing else: the normalisation buffers, the input check that
names the padded size, ``predict()`` for uint8 images of any size, and the parameter split by role.
Architectures implement ``forward_normalized``. Networks know no loss (``dbdzoo.losses`` names each
model's objective) and no hub: saving and loading are functions of ``dbdzoo.hub`` that take a model.
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
    #: long side (px) the weights were trained at; ``predict`` shrinks larger images to it (``scale.py``).
    #: Set by the hub loader from the weights' record (and written back by ``save_pretrained``);
    #: ``None`` = run at native size.
    working_max_side: int | None = None

    @classmethod
    def sync_bn_supported(cls, config: dict[str, Any]) -> bool:
        """Whether ``SyncBatchNorm`` conversion keeps every parameter of a network built from ``config``
        (``trainer.sync_bn`` is refused before anything is built otherwise)."""
        return True

    def __init__(self, norm_preset: str = "imagenet_rgb", input_multiple: int = 32) -> None:
        super().__init__()
        self.normalize = Normalize(norm_preset)
        self.input_multiple = input_multiple
        self.config: dict[str, Any] = {}

    # -- contract -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> ModelOutput:
        """Run the network on RGB in [0, 1] (B×3×H×W, H and W multiples of ``input_multiple``)."""
        if not torch.compiler.is_compiling():  # shape checks would become export guards
            self.check_input(x, check_range=not (self.training and torch.is_grad_enabled()))
        return self.forward_normalized(self.normalize(x))

    @abstractmethod
    def forward_normalized(self, x: torch.Tensor) -> ModelOutput:
        """The architecture proper, on normalised input."""

    def check_input(self, x: torch.Tensor, check_range: bool = True) -> None:
        """Raise a ``ValueError`` that says what was expected when ``x`` cannot be processed.

        Shape, channels, dtype and divisibility are host-side metadata and always checked. The value
        range needs the data itself: reading it back is a device-to-host sync that stalls the GPU queue,
        so ``forward`` skips it only in a training step (training mode with autograd on) and checks it
        everywhere users' own data comes in: ``predict``, evaluation, validation, eval mode, no-grad
        calls. Training stays sync-free (issue 20); its batches come from dbdzoo's readers and
        transforms, which emit [0, 1] floats. Not ``torch._assert_async``: on CUDA its failure is a
        device-side assert that poisons the CUDA context and cannot say "divide by 255".
        """
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__} expects a B×3×H×W tensor, got {shape}")
        if x.shape[1] != 3:
            raise ValueError(
                f"{type(self).__name__} expects 3 RGB channels in [0, 1], got {x.shape[1]} channels"
            )
        if not x.is_floating_point():
            raise ValueError(f"{type(self).__name__} expects a float tensor in [0, 1], got {x.dtype}")
        if check_range and x.numel() and x.device.type != "meta":  # 0–255 floats would pass silently
            lo, hi = torch.aminmax(x.detach())
            if bool((lo < -0.5) | (hi > 1.5)):  # one host read when the input is fine
                raise ValueError(
                    f"{type(self).__name__} expects RGB in [0, 1], got values in [{float(lo):.4g}, "
                    f"{float(hi):.4g}]; divide 0–255 images by 255 (model.predict takes uint8 as is)"
                )
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

    def predict(self, images: Any, max_side: int | str | None = "auto") -> Any:
        """Blur-probability maps (1 = blurred) at each image's original size.

        Args:
            images: one image or a list of them (sizes may differ): a file path, a PIL image, or an array
                (uint8/uint16, or float in [0, 1]; H×W grey, H×W×3 RGB or RGBA); or a float tensor
                B×3×H×W / 3×H×W in [0, 1] (uint8 tensors are scaled). Paths and PIL images are turned
                upright by their EXIF orientation, as ``dbdzoo predict`` and the dataset readers do.
            max_side: images with a longer side run shrunk to it and the map is resized back:
                ``"auto"`` = the scale the weights were trained at (``working_max_side``), ``None`` = native.

        Returns:
            float32 H×W array(s) in [0, 1]; for tensor input a B×1×H×W tensor (1×H×W for 3×H×W input).
        """
        from .inputs import tensor_input
        from .scale import predict_scaled, resolve_max_side

        side = resolve_max_side(self, max_side)
        was_training = self.training
        self.eval()
        try:
            if isinstance(images, torch.Tensor):
                x = tensor_input(images).to(next(self.parameters()).device)
                out = predict_scaled(self, x, side)
                return out[0] if images.ndim == 3 else out
            single = not isinstance(images, list | tuple)
            outs = [self._predict_array(im, side) for im in ([images] if single else images)]
            return outs[0] if single else outs
        finally:
            self.train(was_training)

    def _predict_array(self, image: Any, max_side: int | None = None) -> np.ndarray:
        from .inputs import to_rgb_float
        from .scale import predict_scaled

        rgb = to_rgb_float(image)
        device = next(self.parameters()).device
        x = torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None]
        return predict_scaled(self, x, max_side)[0, 0].cpu().numpy()

    # -- optimisation ------------------------------------------------------------------------------
    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters split by role so optimiser configs can give them different learning rates."""
        backbone = getattr(self, "backbone", None)
        bb = {id(p) for p in backbone.parameters()} if isinstance(backbone, nn.Module) else set()
        groups: dict[str, list[nn.Parameter]] = {"backbone": [], "head": []}
        for p in self.parameters():
            if p.requires_grad:
                groups["backbone" if id(p) in bb else "head"].append(p)
        return groups
