"""The measured bf16 matmul rate: the ceiling each model's throughput is compared with."""

from __future__ import annotations

import torch

from .timing import time_call


def matmul_tflops(device: torch.device, dtype: torch.dtype = torch.bfloat16, n: int | None = None) -> float:
    """Dense ``n``×``n`` matmul TFLOP/s measured on ``device`` (8192² on CUDA, 512² on the CPU).

    Measured rather than taken from a datasheet: clocks, power limits and the library decide what a
    model can reach, and the same run measures both.
    """
    n = n or (8192 if device.type == "cuda" else 512)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    t = time_call(lambda: a @ b, device, warmup=3, iters=10)
    return 2 * n**3 / (t["median_ms"] / 1e3) / 1e12


def matmul_share(gflops_per_image: float, images_per_s: float, tflops: float) -> float:
    """Fraction of the matmul rate a model's arithmetic reaches: GFLOPs/image × images/s ÷ rate."""
    return gflops_per_image * images_per_s / (tflops * 1e3)
