"""Distributed helpers: the whole of DDP bookkeeping in one place (torchrun sets the environment)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .syncbn import convert_sync_batchnorm  # noqa: F401  (``trainer.sync_bn``: works on gloo/CPU too)


@dataclass(frozen=True)
class DistContext:
    """Where this process runs and who it is among the ranks."""

    device: torch.device
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(spec: str, requested_gpus: int = 1, key: str = "trainer.device") -> torch.device:
    """``auto`` → CUDA when available, else CPU; explicit CUDA requests are checked against the machine.

    ``key`` is the config key the user sets (``device`` in eval.yaml), so the error names it.
    """
    try:
        device = (
            torch.device("cuda" if torch.cuda.is_available() else "cpu")
            if spec == "auto"
            else torch.device(spec)
        )
    except RuntimeError as exc:
        raise ValueError(f"{key}={spec!r}: expected auto, cpu, cuda or cuda:N ({exc})") from None
    if device.type == "cuda":
        available = torch.cuda.device_count()
        wanted = max(requested_gpus, (device.index or 0) + 1)
        if available < wanted:
            asked = f"{key}={spec!r}" + (f" / trainer.devices={requested_gpus}" if requested_gpus > 1 else "")
            fix = f"; set {key}=cpu (or auto)" if available == 0 else ""
            raise RuntimeError(f"{asked} asks for {wanted} GPU(s) but this machine has {available}{fix}")
    return device


def setup(device_spec: str = "auto", requested_gpus: int = 1) -> DistContext:
    """Initialise the process group when launched by torchrun, else return a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        device = resolve_device(device_spec, requested_gpus)
        if requested_gpus > 1:
            warnings.warn(
                f"trainer.devices={requested_gpus} but this is a single process: training on {device} only; "
                f"launch with `torchrun --nproc_per_node={requested_gpus} train.py ...` to use them all",
                stacklevel=2,
            )
        return DistContext(device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    base = resolve_device(device_spec, 1)
    if base.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"local rank {local_rank} has no GPU: this node has {torch.cuda.device_count()}"
            )
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistContext(device, rank, local_rank, world)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensors: list[torch.Tensor]) -> None:
    """Sum tensors across ranks in place (no-op in a single process)."""
    if dist.is_available() and dist.is_initialized():
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def average_gradients(params: list[torch.nn.Parameter], world_size: int) -> None:
    """Average gradients of parameters DDP does not wrap (trainable objective parts, the adversary)."""
    grads = [p.grad for p in params if p.grad is not None]
    all_reduce_sum(grads)
    for g in grads:
        g.div_(world_size)
