"""Can the input pipeline feed the fpn_resnet10t train step, and do epoch boundaries stall it?

    python benchmarks/input_pipeline.py --device cuda --cuhk-dir CUHK --photos-dir PHOTOS --workers 14 --json out.json

Rows: CUHK-TR-1 (the btbnet_val80 train split, 524 images) with the fpn_resnet10t_cuhk recipe (224² br2net
crops) for each ``data.cache`` × ``data.augment_on``, plus the per-epoch loader the loop used before (one
DataLoader pass per epoch, workers re-created each time); the photo-realistic renderer at 128²
(configs/data/synthetic_photoreal.yaml) on the workers, and on the device when
``dbdzoo.data.synthetic.device_stream`` imports. On CUDA the *_gpu recipes (batch 16, bf16, channels-last),
on the CPU the CPU recipes (batch 8, fp32). Per row:

- loader img/s: the loop's own stream (``build_train_streams``) drained as fast as it goes after its first
  batch (building it, cache fill included, and the first batch are reported apart);
- train img/s: the fpn_resnet10t train step alone (forward, loss, backward, AdamW) on random tensors of
  the same batch and size, same device and precision; ratio = loader / train (goal ≥ 1.5);
- boundary: the stream consumed across two epoch boundaries (a boundary step = an epoch's first) by the
  real train step on CUDA; on the CPU by a sleep per step, so the workers keep the cores as beside a GPU,
  of the train step's time or, if shorter, of the time the loader needs for 1.5 batches: the ratio goal
  just met, the hardest case for hiding a boundary. Slowest boundary step / median step (goal ≤ 2). The
  renderer rows use 16-step epochs.

``--smoke`` runs everything tiny on the CPU (the test suite does). Progress goes to stderr, the table last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
SMOKE = ["model=fpn", "model.backbone=tiny_vgg", "model.decoder_channels=8", "data.batch_size=2"]


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def compose(experiment: str, overrides: list[str]) -> dict[str, Any]:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = hydra_compose(config_name="train", overrides=[f"experiment={experiment}", *overrides])
    keep = {
        k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("model", "objective", "data", "trainer")
    }
    return {"seed": int(cfg.seed), **keep}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class TrainStep:
    """The fpn_resnet10t step of the recipe (AdamW, its precision and memory format) on any batch."""

    def __init__(self, config: dict[str, Any], device: torch.device) -> None:
        from dbdzoo.engine.builders import build_model_and_objective

        self.device, tr = device, config["trainer"]
        self.model, self.objective = build_model_and_objective(config)
        self.model.to(device).train()
        self.objective.to(device)
        self.channels_last, self.precision = bool(tr["channels_last"]), tr["precision"]
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)

    def __call__(self, batch: dict[str, Any]) -> None:
        from dbdzoo.engine.loaders import to_device
        from dbdzoo.engine.precision import autocast_context

        batch = to_device(batch, self.device, self.channels_last)
        with autocast_context(self.device, self.precision):
            loss = self.objective(self.model, batch)["loss"].float()
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def rate(self, batch_size: int, size: int, steps: int) -> tuple[float, float]:
        """(images/s, seconds per step) on random tensors, after two warm-up steps."""
        from dbdzoo.engine.loaders import to_device

        image = torch.rand(batch_size, 3, size, size, generator=torch.Generator().manual_seed(0))
        batch = {"image": image, "mask": (image[:, :1] > 0.5).float()}
        batch = to_device(batch, self.device, self.channels_last)  # on the device once: the step alone
        for i in range(steps + 2):  # two warm-up steps
            if i == 2:
                sync(self.device)
                t0 = time.perf_counter()
            self(batch)
        sync(self.device)
        step_s = (time.perf_counter() - t0) / steps
        return batch_size / step_s, step_s


class PerEpochStream:
    """The stream as the loop had it before: one DataLoader pass per epoch, workers started each epoch."""

    def __init__(self, data: dict[str, Any], device: torch.device, seed: int) -> None:
        from dbdzoo.engine.builders import build_dataset
        from dbdzoo.engine.loaders import make_loader

        self.loader, self.sampler = make_loader(
            build_dataset(data["train"]), batch_size=data["batch_size"], shuffle=True, seed=seed, rank=0,
            world_size=1, num_workers=data["num_workers"], pin_memory=device.type == "cuda", train=True,
        )  # fmt: skip
        self.batch_size = data["batch_size"]
        self.steps_per_epoch = len(self.sampler) // self.batch_size

    def iterate(self, consumed: int):
        epoch = 0
        while True:
            self.sampler.set_epoch(epoch)
            for batch in self.loader:
                yield epoch, batch
            epoch += 1


def build(kind: str, data: dict[str, Any], device: torch.device, seed: int):
    from dbdzoo.engine.builders import build_train_streams
    from dbdzoo.engine.dist import DistContext

    if kind == "per_epoch":
        return PerEpochStream(data, device, seed)
    return build_train_streams(data, DistContext(device), seed)["main"]


def loader_rate(stream, steps: int, device: torch.device) -> tuple[float, float]:
    """(seconds to the first batch, images/s over ``steps`` batches drained without a consumer).

    The batches the workers had ready while the first was made are drained untimed first: they would
    flatter the rate of a loader that started slowly (the per-epoch loader's workers start late).
    """
    from dbdzoo.engine.loaders import batch_size_of

    loader = getattr(getattr(stream, "stream", stream), "loader", None)
    ahead = loader.num_workers * (loader.prefetch_factor or 0) if getattr(loader, "num_workers", 0) else 0
    it = stream.iterate(0)
    t0 = time.perf_counter()
    next(it)
    first = time.perf_counter() - t0
    for _ in range(ahead):
        next(it)
    sync(device)
    t0, images = time.perf_counter(), 0
    for _ in range(steps):
        images += batch_size_of(next(it)[1])
    sync(device)
    return first, images / (time.perf_counter() - t0)


def boundary_run(stream, consume, device: torch.device, epochs: int = 2) -> dict[str, Any]:
    """Step times (data wait + consumer) over ``epochs`` boundaries; boundary = an epoch's first step."""
    spe = stream.steps_per_epoch
    it = stream.iterate(0)
    consume(next(it)[1])  # start-up is not a boundary
    sync(device)
    times, t = [], time.perf_counter()
    for k in range(1, epochs * spe + 1):
        consume(next(it)[1])
        sync(device)
        now = time.perf_counter()
        times.append((k, now - t))
        t = now
    boundary = [dt for k, dt in times if k % spe == 0]
    others = [dt for k, dt in times if k % spe]
    median = statistics.median(others)
    return {"steps_per_epoch": spe, "median_step_ms": 1e3 * median, "max_other_step_ms": 1e3 * max(others),
            "boundary_step_ms": [round(1e3 * b, 2) for b in boundary],
            "boundary_ratio": max(boundary) / median}  # fmt: skip


def rows_to_run(args: argparse.Namespace) -> list[dict[str, Any]]:
    gpu = args.device.type == "cuda"
    cuhk_exp, syn_exp = [f"fpn_resnet10t_{d}{'_gpu' if gpu else ''}" for d in ("cuhk", "synthetic")]
    common = [*(SMOKE if args.smoke else []), *([f"data.batch_size={args.batch}"] if args.batch else [])]
    common += [f"data.num_workers={args.workers}"] if args.workers is not None else []
    rows = []

    def add(name: str, exp: str, over: list[str], kind: str = "stream", short: bool = False) -> None:
        rows.append({"name": name, "exp": exp, "over": over, "kind": kind, "short": short})

    if args.cuhk_dir:
        cuhk = [*common, f"paths.cuhk_dir={args.cuhk_dir}", *(["data.train.transform.size=32"] * args.smoke)]
        add("cuhk per-epoch loader (before)", cuhk_exp, cuhk, kind="per_epoch")
        for cache in ("none", "ram"):
            for aug in ("worker", "device"):
                add(
                    f"cuhk cache={cache} augment_on={aug}",
                    cuhk_exp,
                    [*cuhk, f"data.cache={cache}", f"data.augment_on={aug}"],
                )
    photos = [f"paths.photos_dir={args.photos_dir}"] if args.photos_dir else ["data.train.texture_dir=null"]
    syn = [*common, *photos, f"data.train.size={32 if args.smoke else 128}"]
    name = "synthetic_photoreal" + ("" if args.photos_dir else " (procedural only)")
    add(f"{name} render_on=worker", syn_exp, syn, short=True)
    try:
        import dbdzoo.data.synthetic.device_stream  # noqa: F401
    except ImportError:
        say("dbdzoo.data.synthetic.device_stream does not import: no device-renderer row")
    else:
        add(f"{name} render_on=device", syn_exp, [*syn, "data.render_on=device"], short=True)
    return [r for r in rows if not args.only or any(s in r["name"] for s in args.only)]


def run_row(row: dict[str, Any], args: argparse.Namespace, trainers: dict) -> dict[str, Any]:
    config = compose(row["exp"], row["over"])
    data = config["data"]
    batch, device = data["batch_size"], args.device
    if row.get("short"):  # renders never repeat: short epochs give boundaries quickly
        data["train"]["length"] = batch * args.short_epoch
    size = data["train"].get("size") or data["train"]["transform"]["size"]
    key = (row["exp"], batch, size)
    if key not in trainers:
        step = TrainStep(config, device)
        trainers[key] = (step, *step.rate(batch, size, args.train_steps))
        say(f"train step {row['exp']} batch {batch} at {size}²: {trainers[key][1]:.1f} img/s")
    step, train_ips, step_s = trainers[key]
    t0 = time.perf_counter()
    stream = build(row["kind"], data, device, config["seed"])
    build_s = time.perf_counter() - t0
    first_s, loader_ips = loader_rate(stream, args.steps, device)
    say(f"{row['name']}: built in {build_s:.1f} s, first batch {first_s:.2f} s, {loader_ips:.1f} img/s")
    pause = 0.0 if args.smoke else min(step_s, 1.5 * batch / loader_ips)  # smoke: the plumbing only
    consume = step if (device.type == "cuda" or args.consumer == "train") else (lambda b: time.sleep(pause))
    stream = build(row["kind"], data, device, config["seed"])  # a fresh one: boundaries from epoch 0
    out = boundary_run(stream, consume, device, args.boundary_epochs)
    say(f"{row['name']}: boundary steps {out['boundary_step_ms']} ms, median {out['median_step_ms']:.1f} ms")
    return {"name": row["name"], "experiment": row["exp"], "batch": batch, "size": size,
            "workers": data.get("num_workers", 0), "cache": data.get("cache"), "augment_on": data.get("augment_on"),
            "render_on": data.get("render_on"), "build_s": round(build_s, 3), "first_batch_s": round(first_s, 3),
            "loader_images_per_s": loader_ips, "train_images_per_s": train_ips, "ratio": loader_ips / train_ips,
            "consumer": "train step" if consume is step else f"sleep {1e3 * pause:.1f} ms", **out}  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| data | workers | build s | loader img/s | train img/s | ratio (≥ 1.5) | median step ms | "
            "boundary steps ms | boundary / median (≤ 2) | slowest other step ms |\n"
            "|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    lines = [head]
    for r in rows:
        boundary = ", ".join(f"{b:.0f}" for b in r["boundary_step_ms"])
        lines.append(
            f"| {r['name']} | {r['workers']} | {r['build_s']:.1f} | {r['loader_images_per_s']:.1f} | "
            f"{r['train_images_per_s']:.1f} | {r['ratio']:.2f} | {r['median_step_ms']:.1f} | {boundary} "
            f"| {r['boundary_ratio']:.2f} | {r['max_other_step_ms']:.0f} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--cuhk-dir", type=Path, help="CUHK-TR-1 folder (image/, gt/); without it no CUHK rows")
    p.add_argument("--photos-dir", type=Path, help="photographs for the renderer (default: procedural only)")
    p.add_argument("--workers", type=int, help="data.num_workers (default: the recipe's)")
    p.add_argument("--batch", type=int, help="data.batch_size (default: the recipe's)")
    p.add_argument("--steps", type=int, default=60, help="batches timed per loader measurement")
    p.add_argument("--train-steps", type=int, default=10, help="train steps timed for the consumption rate")
    p.add_argument("--boundary-epochs", type=int, default=2, help="epoch boundaries crossed per row")
    p.add_argument("--consumer", choices=["auto", "train"], default="auto",
                   help="auto: the real step on CUDA, a sleep on the CPU (see above); train: always the step")  # fmt: skip
    p.add_argument("--only", nargs="*", help="run the rows whose name contains one of these words")
    p.add_argument("--json", type=Path, help="write the rows here")
    p.add_argument("--smoke", action="store_true", help="tiny network, 32² images, few steps (CPU test)")
    args = p.parse_args(argv)
    args.device = torch.device(args.device)
    args.short_epoch = 4 if args.smoke else 16
    if args.smoke:
        args.steps, args.train_steps, args.boundary_epochs = min(args.steps, 3), min(args.train_steps, 2), 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    say(f"input pipeline on {torch.cuda.get_device_name(args.device) if args.device.type == 'cuda' else 'cpu'} "
        f"(torch {torch.__version__}, {torch.get_num_threads()} threads)")  # fmt: skip
    trainers: dict = {}
    rows = [run_row(row, args, trainers) for row in rows_to_run(args)]
    report = {"device": str(args.device), "torch": torch.__version__, "smoke": args.smoke, "rows": rows,
              "goals": {"ratio": 1.5, "boundary_ratio": 2.0}}  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
