"""Synthetic renderer throughput (images/s), worker renderer beside the batched device renderer.

    python benchmarks/bench_renderer.py --device cuda --photos ../shared/data/photos

Not a test. Renders ``configs/data/synthetic_photoreal.yaml``'s training scenes (``--config synthetic``:
the default Gaussian-only scenes of ``configs/data/synthetic.yaml``) at each ``--sizes`` and ``--batches``:

- ``worker``: ``SyntheticDefocusDataset`` items one by one on the CPU, as a DataLoader worker renders
  them (with each of ``--threads`` torch thread counts; a worker process normally has one);
- ``device``: ``DeviceRenderStream`` batches (``data.render_on: device``), one render call per batch,
  on ``--device`` (clock synchronised on CUDA).

Each configuration is timed ``--repeat`` times after ``--warmup`` untimed batches (PSF caches and FFT
plans fill over several); a line gives the median and the range, as shared machines vary from run to run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import yaml

from dbdzoo.data import create_dataset
from dbdzoo.data.synthetic import DeviceRenderStream

REPO = Path(__file__).resolve().parents[1]


def spec_for(config: str, size: int, photos: str | None) -> dict:
    """The ``data.train`` spec of a data config at ``size``², textures from ``photos`` (or none)."""
    spec = yaml.safe_load((REPO / "configs" / "data" / f"{config}.yaml").read_text())["train"]
    spec.pop("texture_dir", None)
    if photos is None:
        spec.pop("texture_exclude", None)
    else:  # leave out the config's unsharp photos where this folder has them
        stems = {f.stem for f in Path(photos).iterdir()}
        spec["texture_dir"] = photos
        spec["texture_exclude"] = [s for s in spec.get("texture_exclude", []) if s in stems]
    return {**spec, "size": size, "length": 10**6}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_worker(spec: dict, batch: int, repeat: int, warmup: int) -> list[float]:
    """Images/s of the worker renderer, item by item, over ``batch`` items per timing."""
    opts = {k: v for k, v in spec.items() if k not in ("name", "split")}
    ds = create_dataset(spec["name"], split=spec["split"], **opts)
    for i in range(warmup * batch):  # kernel caches, OpenCV, first-use allocations
        ds[i]
    rates, start = [], warmup * batch
    for _ in range(repeat):
        t = time.perf_counter()
        for i in range(start, start + batch):
            ds[i]
        rates.append(batch / (time.perf_counter() - t))
        start += batch
    return rates


def bench_device(spec: dict, batch: int, repeat: int, warmup: int, device: torch.device) -> list[float]:
    """Images/s of the device renderer, one render call per batch of ``batch``."""
    stream = DeviceRenderStream(spec, batch_size=batch, seed=0, rank=0, world_size=1, device=device, group=1)
    for k in range(warmup):  # PSF caches, FFT plans of each blur size, the draw plan
        stream.batch(k)
    _sync(device)
    rates = []
    for k in range(warmup, warmup + repeat):
        t = time.perf_counter()
        stream.batch(k)
        _sync(device)
        rates.append(batch / (time.perf_counter() - t))
    return rates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", "--size", type=int, nargs="+", default=[128, 256])
    ap.add_argument("--batches", "--batch", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3, help="untimed batches first (caches fill over several)")
    ap.add_argument("--device", default="cpu", help="where the device renderer runs")
    ap.add_argument("--threads", type=int, nargs="*", default=None, help="CPU torch thread counts to try")
    ap.add_argument("--config", default="synthetic_photoreal", choices=["synthetic_photoreal", "synthetic"])
    ap.add_argument("--photos", default=None, help="folder of sharp photos for texture crops")
    ap.add_argument("--renderers", nargs="+", default=["worker", "device"], choices=["worker", "device"])
    args = ap.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        f"{args.config}, photos: {args.photos or 'none'}, torch {torch.__version__}, device renderer on {name}"
    )
    print("| renderer | size | batch | CPU threads | images/s (median) | range |\n|---|---|---|---|---|---|")
    for threads in args.threads or [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        for size in args.sizes:
            spec = spec_for(args.config, size, args.photos)
            for batch in args.batches:
                for renderer in args.renderers:
                    if renderer == "worker":
                        rates = bench_worker(spec, batch, args.repeat, args.warmup)
                    else:
                        rates = bench_device(spec, batch, args.repeat, args.warmup, device)
                    where = "cpu" if renderer == "worker" else device.type
                    print(
                        f"| {renderer} ({where}) | {size} | {batch} | {threads} | "
                        f"{statistics.median(rates):.1f} | {min(rates):.1f}–{max(rates):.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
