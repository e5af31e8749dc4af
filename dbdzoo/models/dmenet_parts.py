"""DMENet building blocks: β-only BatchNorm, conv+BN+LeakyReLU, TF ``SAME`` padding, the original
initialisers.

Reimplemented from the paper (model card docs/models/dmenet.md) and the facts read in the authors'
AGPL code (codeslake/DMENet ``model.py``); no code is copied. The training-only networks built from
them (discriminator, calibration net) live with the objective, not here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.2


class ShiftBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm with a learnable shift β but no scale (γ ≡ 1).

    TensorLayer 1.x ``BatchNormLayer(gamma_init=None)`` creates no γ variable; DMENet builds every BN
    that way. Subclassing ``BatchNorm2d`` keeps ``isinstance`` checks (weight-decay filters, norm
    freezing) working; the running statistics and momentum behave exactly like PyTorch's.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum, affine=False)
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``BatchNorm2d.forward`` with γ passed as explicit ones instead of ``None``.

        A β without γ made CUDA's batch-norm backward fail ("tensor does not have a device", seen on an
        H200 with torch 2.11); with a defined γ it runs, and CUDA may use cuDNN's kernels. Times 1 is
        exact, so outputs equal the ``weight=None`` ones, and the state dict stays β + running stats.
        """
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative moving average, as torch
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        pass_stats = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if pass_stats else None,
            self.running_var if pass_stats else None,
            torch.ones_like(self.bias),  # follows β's device and dtype (.to(), .half(), autocast)
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + ", scale=False"


def batch_norm(channels: int, affine_scale: bool = False) -> nn.BatchNorm2d:
    """DMENet's BN: β only by default (faithful), or a standard affine BN (γ and β)."""
    return nn.BatchNorm2d(channels) if affine_scale else ShiftBatchNorm2d(channels)


class ConvNormAct(nn.Module):
    """k×k conv (bias, as TensorLayer's default) → BN → LeakyReLU(0.2), DMENet's basic unit.

    Args:
        in_ch, out_ch: channels.
        kernel_size: 3 for the decoder, 1 for shortcuts and the calibration net.
        padding_mode: ``replicate`` equals the original 1-pixel symmetric pad + VALID conv.
        affine_scale: give the BN a learnable γ (the original has none).
        bias: conv bias (the discriminator's convs have none).
        stride: conv stride; with ``stride > 1`` the conv pads like TF ``SAME`` (extra pixel at the
            bottom/right for odd sizes), as the original discriminator does.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        *,
        padding_mode: str = "replicate",
        affine_scale: bool = False,
        bias: bool = True,
        stride: int = 1,
    ) -> None:
        super().__init__()
        padding = 0 if stride > 1 else kernel_size // 2
        self.conv = nn.Conv2d(
            in_ch, out_ch, kernel_size, stride=stride, padding=padding, bias=bias, padding_mode=padding_mode
        )
        self.norm = batch_norm(out_ch, affine_scale)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv.stride[0] > 1:
            x = tf_same_pad(x, self.conv.kernel_size[0], self.conv.stride[0])
        return self.act(self.norm(self.conv(x)))


def tf_same_pad(x: torch.Tensor, kernel_size: int, stride: int) -> torch.Tensor:
    """Zero-pad like TensorFlow ``padding='SAME'``: output = ceil(size / stride), extra pixel after."""
    pads: list[int] = []
    for size in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim first
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel_size - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def init_dmenet_weights(module: nn.Module, sigmoid_convs: tuple[nn.Conv2d, ...] = ()) -> None:
    """He-normal for convs followed by (leaky) ReLU, Xavier-uniform for convs feeding a sigmoid.

    Mirrors the original initialisers (TF ``variance_scaling_initializer`` / ``xavier_initializer``);
    TF draws a truncated normal where PyTorch draws a normal — only the random start differs.
    """
    sigmoid_ids = {id(c) for c in sigmoid_convs}
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            if id(m) in sigmoid_ids:
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
