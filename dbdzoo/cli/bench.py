"""``dbdzoo bench``: parameters, FLOPs, latency/throughput (fp32 eager vs optimised), pipeline speed."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

HELP = "Measure size, FLOPs, inference/training throughput and input-pipeline speed; prints a table."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models", default="*", help="comma-separated names or one fnmatch pattern (default: all)"
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--size", type=int, default=320, help="square input size (default 320)")
    parser.add_argument("--batches", default="1,64", help="inference batch sizes, e.g. 1,64")
    parser.add_argument("--train-batch", type=int, default=8)
    parser.add_argument(
        "--compile", default="default", help="torch.compile mode for the optimised path, or 'none'"
    )
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument(
        "--tiny", action="store_true", help="tiny backbones (smoke test of the benchmark itself)"
    )
    parser.add_argument(
        "--no-pipeline", action="store_true", help="skip renderer and DataLoader measurements"
    )
    parser.add_argument("--loader-workers", type=int, default=4)
    parser.add_argument("--out", default="outputs/bench", help="folder for bench.md and bench.json")


def run(args: argparse.Namespace) -> int:
    import fnmatch

    from ..bench import bench_loader, bench_model, bench_renderer, environment, model_table, write_results
    from ..bench.tiny import TINY_OBJECTIVE_OVERRIDES, tiny_overrides
    from ..engine.dist import resolve_device
    from ..models import list_models

    device = resolve_device(args.device, key="--device")
    names = list_models()
    wanted = [m.strip() for m in args.models.split(",")]
    chosen = [n for n in names if any(fnmatch.fnmatch(n, w) for w in wanted)]
    if not chosen:
        raise ValueError(f"--models {args.models!r} matches no registered model; valid: {', '.join(names)}")
    batches = tuple(int(b) for b in args.batches.split(","))
    compile_mode = None if args.compile in {"none", "false", ""} else args.compile
    rows = []
    for name in chosen:
        print(f"benchmarking {name} on {device} …", flush=True)
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
            )
        )
    env = environment(device)
    md = [
        f"# dbdzoo bench — {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()),
        f"Input {args.size}×{args.size}; optimised = bf16 autocast + channels_last"
        + (f" + torch.compile({compile_mode})" if compile_mode else "")
        + "; GFLOPs = 2 × GMACs.",
        "",
        model_table(rows, batches),
    ]
    payload = {"environment": env, "models": rows, "args": vars(args)}
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
