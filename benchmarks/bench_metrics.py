"""Time DBDEvaluator on 500 random 320x320 maps with every preset, against a per-threshold numpy loop.

Usage: ``python benchmarks/bench_metrics.py [--images 500] [--batch 16] [--numpy-images 5]``.
On a shared machine prefer ``OMP_NUM_THREADS=1`` and read the CPU-time figures.
The numpy loop (for every image and preset: one boolean comparison and two masked sums per
threshold, 256 thresholds or the preset's own sweep) is timed on ``--numpy-images`` images and
extrapolated linearly, because running it on all 500 would take minutes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dbdzoo.metrics import DBDEvaluator, get_preset, list_presets


def numpy_loop(preds: np.ndarray, gts: np.ndarray, names: list[str]) -> tuple[float, float]:
    """Straightforward per-image, per-threshold numpy evaluation; returns (wall, CPU) seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    for name in names:
        ps = get_preset(name)
        n = ps.threshold.n if ps.threshold.kind == "sweep" else 256
        thresholds = np.arange(n, dtype=np.float32) / np.float32(n - 1)
        for pred, gt in zip(preds, gts, strict=True):
            v = 1 - pred if ps.positive == "in_focus" else pred
            g = (1 - gt if ps.positive == "in_focus" else gt) > 0.5
            for t in thresholds:
                pos = v >= t
                _tp, _fp = np.count_nonzero(pos & g), np.count_nonzero(pos & ~g)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--numpy-images", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    gen = torch.Generator().manual_seed(0)
    preds = torch.rand(args.images, 1, args.size, args.size, generator=gen)
    gts = (torch.rand(args.images, 1, args.size, args.size, generator=gen) > 0.5).float()
    names = list_presets()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}")
    print(f"{args.images} images {args.size}x{args.size}, batch {args.batch}, {len(names)} presets: {names}")

    ev = DBDEvaluator(names, device=args.device)
    ev.update(preds[:2].to(args.device), gts[:2].to(args.device))  # warm-up
    ev.reset()
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, args.images, args.batch):
        ev.update(preds[i : i + args.batch].to(args.device), gts[i : i + args.batch].to(args.device))
    res = ev.compute()
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    ours, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"DBDEvaluator: {ours:.2f} s wall, {ours_cpu:.2f} s CPU ({1000 * ours / args.images:.1f} ms/image wall)"
    )

    k = args.numpy_images
    t_np, cpu_np = numpy_loop(preds[:k, 0].numpy(), gts[:k, 0].numpy(), names)
    est, est_cpu = t_np * args.images / k, cpu_np * args.images / k
    print(f"numpy per-threshold loop on {k} images: {t_np:.2f} s wall, {cpu_np:.2f} s CPU")
    print(f"  extrapolated to {args.images}: ~{est:.0f} s wall, ~{est_cpu:.0f} s CPU")
    print(f"speed-up: ~{est / ours:.1f}x wall, ~{est_cpu / ours_cpu:.1f}x CPU")
    print(f"sanity: br2net_maxf F = {res['br2net_maxf']['F']:.4f} (random maps: ~0.57)")


if __name__ == "__main__":
    main()
