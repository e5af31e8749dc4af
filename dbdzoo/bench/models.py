"""Per-model measurements: size, FLOPs, inference latency/throughput, training per combination."""

from __future__ import annotations

import copy
from contextlib import nullcontext
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..models import build_model
from .rates import matmul_share
from .timing import throughput
from .train_step import bench_train_step


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

    return throughput(run, device, batch, "latency_ms", warmup=warmup, iters=iters)


def bf16_relative_error(model: torch.nn.Module, device: torch.device, size: int = 320) -> float:
    """max |p_bf16 − p_fp32| / max |p_fp32| of the output map on one random image."""
    x = torch.rand(1, 3, size, size, device=device)
    with torch.inference_mode():
        ref = model.predict_tensor(x).float()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            low = model.predict_tensor(x).float()
    return float((low - ref).abs().max() / ref.abs().max().clamp_min(1e-12))


def summarize_train(row: dict[str, Any], matmul_tflops: float | None = None) -> dict[str, Any]:
    """Fastest training variant, the variants slower than fp32 eager, and each one's matmul-rate share.

    An optimised combination that trains slower than fp32 eager is listed in ``train_slower_than_fp32``
    so that no trainer default picks it silently.
    """
    train = row.get("train", {})
    speed = {k: v["images_per_s"] for k, v in train.items() if v.get("images_per_s")}
    if not speed:
        return row
    row["train_best"] = max(speed, key=speed.get)
    base = speed.get("fp32")
    row["train_best_vs_fp32"] = speed[row["train_best"]] / base if base else None
    row["train_slower_than_fp32"] = [k for k, v in speed.items() if base and k != "fp32" and v < base]
    gflops = train.get("fp32", {}).get("train_gflops")
    if matmul_tflops and gflops:
        row["matmul_share"] = {f"train_{k}": matmul_share(gflops, v, matmul_tflops) for k, v in speed.items()}
        big = max(int(k.split("_b")[1]) for k in row if k.startswith("optimized_b"))
        row["matmul_share"][f"infer_opt_b{big}"] = matmul_share(
            row["gflops"], row[f"optimized_b{big}"]["images_per_s"], matmul_tflops
        )
    return row


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
    train_variants: tuple[str, ...] = ("fp32", "bf16_cl"),
    matmul_tflops: float | None = None,
) -> dict[str, Any]:
    """Everything the speed tables report for one model.

    ``optimized_b*`` is bf16 + channels_last (+ ``compile_mode``) inference; ``train`` holds one entry per
    ``train_variants`` key (``train_fp32_eager`` / ``train_optimized`` repeat ``fp32`` / ``bf16_cl``).
    """
    overrides = dict(overrides or {})
    model = build_model(name, **overrides).to(device).eval()
    row: dict[str, Any] = {"model": name, "params_m": sum(p.numel() for p in model.parameters()) / 1e6}
    row.update(count_flops(model, size))
    row["bf16_rel_err"] = bf16_relative_error(model, device, size)
    for optimized in (False, True):
        path = "optimized" if optimized else "fp32_eager"
        for b in batches:
            row[f"{path}_b{b}"] = bench_inference(model, device, b, size, optimized=optimized,
                                                  compile_mode=compile_mode, warmup=warmup, iters=iters)  # fmt: skip
    del model
    big = max(batches)
    row[f"speedup_b{big}"] = (
        row[f"optimized_b{big}"]["images_per_s"] / row[f"fp32_eager_b{big}"]["images_per_s"]
    )
    row["train"] = {}
    for variant in train_variants:
        row["train"][variant] = bench_train_step(
            name, overrides, device, train_batch, size, variant=variant, compile_mode=compile_mode or "default",
            warmup=max(1, warmup // 2), iters=max(2, iters // 2), objective_kwargs=objective,
            diagnose=True,
        )  # fmt: skip
    row["train_fp32_eager"] = row["train"].get("fp32", {"images_per_s": None})
    row["train_optimized"] = row["train"].get("bf16_cl", {"images_per_s": None})
    return summarize_train(row, matmul_tflops)
