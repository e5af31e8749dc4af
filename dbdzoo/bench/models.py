"""Per-model measurements: size, FLOPs, inference latency/throughput, training-step throughput."""

from __future__ import annotations

import copy
from contextlib import nullcontext
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..losses import build_objective, default_objective
from ..models import create_model
from .timing import peak_memory_mb, reset_peak_memory, time_call


def _timed(fn, device: torch.device, batch: int, time_key: str, warmup: int, iters: int) -> dict[str, Any]:
    """Median time of ``fn``, the images/s it implies and the peak memory it needed."""
    reset_peak_memory(device)
    t = time_call(fn, device, warmup=warmup, iters=iters)
    return {"batch": batch, time_key: t["median_ms"], "images_per_s": batch / (t["median_ms"] / 1e3),
            "peak_mem_mb": peak_memory_mb(device)}  # fmt: skip


def count_flops(model: torch.nn.Module, size: int = 320) -> dict[str, float]:
    """GFLOPs and GMACs of one forward at ``size``² (FlopCounterMode counts FLOPs = 2 × MACs)."""
    x = torch.rand(1, 3, size, size, device=next(model.parameters()).device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    flops = counter.get_total_flops()
    return {"gflops": flops / 1e9, "gmacs": flops / 2e9}


def _variant(model: torch.nn.Module, optimized: bool, compile_mode: str | None, device: torch.device):
    """(callable model, autocast context factory, memory format) for the baseline or optimised path."""
    if not optimized:
        return model, nullcontext, torch.contiguous_format
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    if compile_mode:
        fast = torch.compile(fast, mode=None if compile_mode == "default" else compile_mode)
    dtype = torch.bfloat16
    return fast, (lambda: torch.autocast(device.type, dtype=dtype)), torch.channels_last


def bench_inference(
    model: torch.nn.Module,
    device: torch.device,
    batch: int,
    size: int,
    *,
    optimized: bool,
    compile_mode: str | None,
    warmup: int,
    iters: int,
) -> dict[str, Any]:
    """Latency and throughput of ``model`` (eval, inference_mode) for one batch size and path."""
    net, amp, fmt = _variant(model, optimized, compile_mode, device)
    x = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=fmt)

    def run() -> None:
        with torch.inference_mode(), amp():
            net(x)

    return _timed(run, device, batch, "latency_ms", warmup, iters)


def bench_train_step(
    name: str,
    overrides: dict,
    device: torch.device,
    batch: int,
    size: int,
    *,
    optimized: bool,
    warmup: int,
    iters: int,
    objective_kwargs: dict | None = None,
) -> dict[str, Any]:
    """Images/s of one optimiser step (forward, objective, backward, Adam step) on random data."""
    model = create_model(name, **overrides).to(device).train()
    # the model's paper objective with the given options over it (tiny auxiliary nets in smoke runs)
    objective = build_objective({**default_objective(name), **(objective_kwargs or {})}, model).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-6)
    fmt = torch.channels_last if optimized else torch.contiguous_format
    model.to(memory_format=fmt)
    image = torch.rand(batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    mask = (torch.rand(batch, 1, size, size, device=device) > 0.5).float()
    batch_dict: dict[str, Any] = {
        "image": image,
        "mask": mask,
        "defocus": mask * 3.0,
        "defocus_valid": torch.ones_like(mask),
    }
    if getattr(model, "task", "dbd") == "dme":
        batch_dict = {
            "syn": batch_dict,
            "real": {"image": image, "mask": mask},
            "unlabelled": {"image": image},
        }
    amp = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if optimized else nullcontext

    def step() -> None:
        with amp():
            loss = objective(model, batch_dict)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return _timed(step, device, batch, "step_ms", warmup, iters)


def bf16_relative_error(model: torch.nn.Module, device: torch.device, size: int = 320) -> float:
    """max |p_bf16 − p_fp32| / max |p_fp32| of the output map on one random image."""
    x = torch.rand(1, 3, size, size, device=device)
    with torch.inference_mode():
        ref = model.predict_tensor(x).float()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            low = model.predict_tensor(x).float()
    return float((low - ref).abs().max() / ref.abs().max().clamp_min(1e-12))


def bench_model(
    name: str,
    device: torch.device,
    *,
    overrides: dict | None = None,
    objective: dict | None = None,
    size: int = 320,
    batches: tuple[int, ...] = (1, 16),
    compile_mode: str | None = None,
    warmup: int = 3,
    iters: int = 10,
    train_batch: int = 8,
) -> dict[str, Any]:
    """Everything the speed table reports for one model."""
    overrides = dict(overrides or {})
    model = create_model(name, **overrides).to(device).eval()
    row: dict[str, Any] = {"model": name, "params_m": sum(p.numel() for p in model.parameters()) / 1e6}
    row.update(count_flops(model, size))
    row["bf16_rel_err"] = bf16_relative_error(model, device, size)
    for optimized in (False, True):
        path = "optimized" if optimized else "fp32_eager"
        for b in batches:
            row[f"{path}_b{b}"] = bench_inference(
                model,
                device,
                b,
                size,
                optimized=optimized,
                compile_mode=compile_mode,
                warmup=warmup,
                iters=iters,
            )
        row[f"train_{path}"] = bench_train_step(
            name,
            overrides,
            device,
            train_batch,
            size,
            optimized=optimized,
            warmup=max(1, warmup // 2),
            iters=max(2, iters // 2),
            objective_kwargs=objective,
        )
    big = max(batches)
    row[f"speedup_b{big}"] = (
        row[f"optimized_b{big}"]["images_per_s"] / row[f"fp32_eager_b{big}"]["images_per_s"]
    )
    return row
