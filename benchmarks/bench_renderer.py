"""Synthetic renderer throughput (images/s): ``python benchmarks/bench_renderer.py [--device cuda]``.

Not a test. Times ``render_defocus`` on full batches after one warm-up batch; on CUDA the clock is
synchronised around each batch. Prints one line per configuration.
"""

from __future__ import annotations

import argparse
import time

import torch

from dbdzoo.data import render_defocus


def bench(size: int, batch: int, iters: int, device: str, dtype: torch.dtype) -> float:
    """Images per second over ``iters`` batches after one warm-up batch."""
    render_defocus(batch, size, size, generator=0, device=device, dtype=dtype)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(iters):
        render_defocus(
            batch, size, size, generator=0, first_index=(i + 1) * batch, device=device, dtype=dtype
        )
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return batch * iters / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, nargs="*", default=None, help="CPU thread counts to try")
    args = ap.parse_args()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    for threads in args.threads or [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        ips = bench(args.size, args.batch, args.iters, args.device, torch.float32)
        print(
            f"renderer {args.size}x{args.size} batch {args.batch} on {name} ({threads} threads, "
            f"torch {torch.__version__}): {ips:.1f} images/s"
        )


if __name__ == "__main__":
    main()
