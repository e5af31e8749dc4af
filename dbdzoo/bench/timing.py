"""Timing primitives: warm-up, device synchronisation and medians (timm ``benchmark.py`` pattern)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(
    fn: Callable[[], object], device: torch.device, *, warmup: int = 3, iters: int = 10
) -> dict[str, float]:
    """Median/min wall time of ``fn`` in milliseconds after ``warmup`` calls (CUDA events on GPU)."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times: list[float] = []
    for _ in range(iters):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "iters": iters}


def throughput(
    fn: Callable[[], object], device: torch.device, batch: int, time_key: str, *, warmup: int, iters: int
) -> dict[str, float | int | None]:
    """Median time of ``fn`` (under ``time_key``), the images/s it implies and the peak memory it needed."""
    reset_peak_memory(device)
    t = time_call(fn, device, warmup=warmup, iters=iters)
    return {"batch": batch, time_key: t["median_ms"], "images_per_s": batch / (t["median_ms"] / 1e3),
            "peak_mem_mb": peak_memory_mb(device)}  # fmt: skip


def peak_memory_mb(device: torch.device) -> float | None:
    """Peak CUDA memory since the last reset, in MiB (``None`` on CPU: no allocator statistics)."""
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def environment(device: torch.device) -> dict[str, str]:
    """What produced the numbers: device name, torch and CUDA versions."""
    info = {"torch": torch.__version__, "device": str(device), "threads": str(torch.get_num_threads())}
    if device.type == "cuda":
        info.update(
            gpu=torch.cuda.get_device_name(device),
            cuda=str(torch.version.cuda),
            cudnn=str(torch.backends.cudnn.version()),
        )
    else:
        import platform

        info.update(cpu=platform.processor() or platform.machine())
    return info
