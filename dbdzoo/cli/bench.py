"""``dbdzoo bench``: parameters, FLOPs, latency/throughput (fp32 eager vs optimised), training per
precision/layout/compile combination (the fastest named, slower-than-fp32 ones flagged), pipeline speed."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

HELP = "Measure size, FLOPs, inference/training throughput and input-pipeline speed; prints a table."
#: what an unset option means on a GPU, and on a CPU (issue 22: the GPU defaults never finished on 2 cores)
GPU_DEFAULTS = {"models": "*", "size": 320, "batches": "1,64", "train_batch": 8, "compile": "default",
                "warmup": 3, "iters": 10, "loader_workers": 8}  # fmt: skip
CPU_DEFAULTS = {"models": "fpn_resnet10t,fpn", "size": 128, "batches": "1,4", "train_batch": 2,
                "compile": "none", "warmup": 1, "iters": 3, "loader_workers": 2}  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated names or one fnmatch pattern (default: all on a GPU; on a CPU the compact "
        f"networks {CPU_DEFAULTS['models']}, so the run ends in about two minutes on two cores)",
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--size", type=int, default=None, help="square input size (320; CPU: 128)")
    parser.add_argument("--batches", default=None, help="inference batch sizes (1,64; CPU: 1,4)")
    parser.add_argument("--train-batch", type=int, default=None, help="training batch (8; CPU: 2)")
    parser.add_argument(
        "--compile", default=None, help="torch.compile mode for the optimised path, or 'none' (CPU: none)"
    )
    parser.add_argument(
        "--train-variants",
        default="auto",
        help="training combinations, comma-separated keys of dbdzoo.bench.TRAIN_VARIANTS; "
        "auto = fp32,bf16,bf16_cl, plus bf16_cl_compile on CUDA unless --compile none",
    )
    parser.add_argument("--warmup", type=int, default=None, help="warm-up calls (3; CPU: 1)")
    parser.add_argument("--iters", type=int, default=None, help="timed calls (10; CPU: 3)")
    parser.add_argument(
        "--tiny", action="store_true", help="tiny backbones (smoke test of the benchmark itself)"
    )
    parser.add_argument(
        "--no-pipeline", action="store_true", help="skip renderer and DataLoader measurements"
    )
    parser.add_argument("--loader-workers", type=int, default=None, help="DataLoader workers (8; CPU: 2)")
    parser.add_argument("--out", default="outputs/bench", help="folder for bench.md and bench.json")


def apply_device_defaults(args: argparse.Namespace, device_type: str) -> argparse.Namespace:
    """Fill the options the user left unset: GPU-sized on CUDA, CPU-sized (about two minutes) elsewhere."""
    defaults = GPU_DEFAULTS if device_type == "cuda" else CPU_DEFAULTS
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def run(args: argparse.Namespace) -> int:
    import fnmatch
    import time

    from ..bench import (
        TRAIN_VARIANTS,
        bench_loader,
        bench_model,
        bench_renderer,
        environment,
        matmul_tflops,
        model_table,
        train_table,
        write_results,
    )
    from ..bench.tiny import TINY_OBJECTIVE_OVERRIDES, tiny_overrides
    from ..engine.dist import resolve_device
    from ..zoo import list_models

    device = resolve_device(args.device, key="--device")
    args = apply_device_defaults(args, device.type)
    names = list_models(trainable=True)  # training steps, FLOPs, compile: networks only (not HiFST/LBP)
    wanted = [m.strip() for m in args.models.split(",")]
    chosen = [n for n in names if any(fnmatch.fnmatch(n, w) for w in wanted)]
    if not chosen:
        raise ValueError(f"--models {args.models!r} matches no registered model; valid: {', '.join(names)}")
    batches = tuple(int(b) for b in args.batches.split(","))
    compile_mode = None if args.compile in {"none", "false", ""} else args.compile
    variants = tuple(
        ["fp32", "bf16", "bf16_cl"] + (["bf16_cl_compile"] if compile_mode and device.type == "cuda" else [])
        if args.train_variants == "auto"
        else args.train_variants.split(",")
    )
    if unknown := [v for v in variants if v not in TRAIN_VARIANTS]:
        raise ValueError(
            f"--train-variants {','.join(unknown)}: expected some of {', '.join(TRAIN_VARIANTS)}"
        )
    rate = matmul_tflops(device)
    rows, started = [], time.perf_counter()
    for i, name in enumerate(chosen):
        elapsed = time.perf_counter() - started
        eta = f", about {elapsed / i * (len(chosen) - i):.0f} s left" if i else ""
        print(
            f"[{i + 1}/{len(chosen)}] benchmarking {name} on {device} ({elapsed:.0f} s so far{eta})",
            flush=True,
        )
        rows.append(
            bench_model(
                name,
                device,
                overrides=tiny_overrides(name) if args.tiny else {},
                objective=TINY_OBJECTIVE_OVERRIDES.get(name, {}) if args.tiny else {},
                size=args.size,
                batches=batches,
                compile_mode=compile_mode,
                warmup=args.warmup,
                iters=args.iters,
                train_batch=args.train_batch,
                train_variants=variants,
                matmul_tflops=rate,
            )
        )
    env = environment(device)
    md = [
        f"# dbdzoo bench — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()),
        f"Input {args.size}×{args.size}; optimised = bf16 autocast + channels_last"
        + (f" + torch.compile({compile_mode})" if compile_mode else "")
        + f"; GFLOPs = 2 × GMACs; measured bf16 matmul rate {rate:.1f} TFLOP/s.",
        "",
        model_table(rows, batches),
        "",
        "Training per combination (fastest per model; **bold** = slower than fp32 eager, not to be picked):",
        "",
        train_table(rows),
    ]
    payload = {"environment": env, "matmul_bf16_tflops": rate, "models": rows, "args": vars(args)}
    if not args.no_pipeline:
        renderer = bench_renderer(device, size=args.size)
        loader = bench_loader(workers=args.loader_workers)
        payload.update(renderer=renderer, loader=loader)
        md += [
            "",
            f"Synthetic renderer: {renderer['images_per_s']:.1f} images/s at {args.size}² (batch {renderer['batch']}).",
            f"DataLoader (folder of JPEG/PNG, {loader['recipe']} recipe, {loader['workers']} workers): "
            f"{loader['images_per_s']:.1f} images/s.",
        ]
    table = "\n".join(md)
    paths = write_results(args.out, payload, table)
    print(table)
    print(f"\nwritten: {paths[0]} and {paths[1]}")
    return 0
