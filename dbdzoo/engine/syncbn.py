"""Cross-rank BatchNorm that also runs on CPU/gloo, so DDP equals one process for BatchNorm networks.

``torch.nn.SyncBatchNorm`` refuses CPU tensors ("expected input tensor to be on GPU"), so
``trainer.sync_bn=true`` could not run under gloo, and without it each rank normalises with its own
batch's statistics: 2 ranks × 2 images then differ from one process × 4 images. Here the global batch
mean and variance come from all-reduced sums (two passes: mean first, then squared deviations, as
exact as one process up to summation order), and the all-reduce is differentiable, so the gradient
through the statistics is the one-process gradient too. CUDA tensors with a standard affine layer keep
torch's fused kernels. The converted layers have the same parameter and buffer names, so checkpoints
and releases are unchanged.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

_NATIVE_DEVICES = ("cuda", "hpu", "xpu")


class _SumOverRanks(torch.autograd.Function):
    """``all_reduce(SUM)`` whose backward all-reduces the gradient (every rank's loss uses the sum)."""

    @staticmethod
    def forward(ctx, t: torch.Tensor, group) -> torch.Tensor:  # noqa: ANN001 (process group)
        ctx.group = group
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
        return t

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        grad = grad.clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


def _sum_over_ranks(t: torch.Tensor, group) -> torch.Tensor:  # noqa: ANN001
    return _SumOverRanks.apply(t, group)


class SyncBatchNorm(_BatchNorm):
    """Cross-rank BatchNorm on any device, γ-less layers included (DMENet's β-only BN).

    Not a subclass of ``nn.SyncBatchNorm``: DDP refuses those on CPU modules. On CUDA a standard layer
    runs ``nn.SyncBatchNorm``'s fused path; everything else the all-reduced two-pass statistics below.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group=None,  # noqa: ANN001 (a torch.distributed ProcessGroup)
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.process_group = process_group

    _check_input_dim = nn.SyncBatchNorm._check_input_dim
    _check_non_zero_input_channels = nn.SyncBatchNorm._check_non_zero_input_channels

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 (torch's name)
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(input)
        if input.device.type in _NATIVE_DEVICES and (self.weight is None) == (self.bias is None):
            return nn.SyncBatchNorm.forward(self, input)  # type: ignore[arg-type]
        group = self.process_group or dist.group.WORLD
        if dist.get_world_size(group) == 1:
            return super().forward(input)
        return self._synced(input, group)

    def _synced(self, x: torch.Tensor, group) -> torch.Tensor:  # noqa: ANN001
        self._check_input_dim(x)
        dims = [0, *range(2, x.ndim)]
        shape = [1, -1] + [1] * (x.ndim - 2)
        xf = x.float()
        local = torch.tensor([x.numel() // x.shape[1]], dtype=torch.float32, device=x.device)
        packed = _sum_over_ranks(torch.cat([xf.sum(dims), local]), group)
        count = packed[-1].detach()
        mean = packed[:-1] / count
        centred = xf - mean.reshape(shape)
        var = _sum_over_ranks((centred * centred).sum(dims), group) / count  # biased, as BN normalises
        if self.track_running_stats and self.running_mean is not None:
            self._update_running_stats(mean.detach(), var.detach(), count)
        y = centred * torch.rsqrt(var + self.eps).reshape(shape)
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        return y.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor) -> None:
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * count / (count - 1).clamp(min=1)
        self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)


def convert_sync_batchnorm(module: nn.Module, process_group=None) -> nn.Module:  # noqa: ANN001
    """Replace every BatchNorm layer by :class:`SyncBatchNorm`, sharing its parameters and buffers.

    Unlike ``nn.SyncBatchNorm.convert_sync_batchnorm`` this keeps a β without γ (``affine=False`` plus a
    ``bias`` parameter), so no parameter is silently dropped.
    """
    out = module
    if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
        out = SyncBatchNorm(
            module.num_features,
            module.eps,
            module.momentum,
            module.affine,
            module.track_running_stats,
            process_group,
        )
        for name in ("weight", "bias"):  # parameters (or None) as they are, γ-less layers included
            value = getattr(module, name, None)
            if isinstance(value, nn.Parameter):
                out.register_parameter(name, value)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            setattr(out, name, getattr(module, name))
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, process_group))
    return out
