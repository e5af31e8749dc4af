"""The GPU check suite: bf16 vs fp32, speed table with the fp32-eager baseline, short training runs.

On one GPU it stays well under 8 minutes; `--smoke` runs the same code reduced on the CPU (that is how
the test suite exercises it). Full JSON and logs go to --out; a short summary table is printed last.

    python benchmarks/gpu_suite.py --out /tmp/suite            # on the GPU machine
    python benchmarks/gpu_suite.py --smoke --models fpn --out /tmp/suite   # CPU smoke run
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
import traceback
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dbdzoo.bench import bench_model, bench_renderer, environment, model_table  # noqa: E402
from dbdzoo.bench.tiny import (  # noqa: E402
    TINY_OBJECTIVE_OVERRIDES,
    tiny_model_config,
    tiny_objective_config,
    tiny_overrides,
)
from dbdzoo.engine import train  # noqa: E402
from dbdzoo.engine.dist import resolve_device  # noqa: E402
from dbdzoo.metrics.table import table_header, table_row  # noqa: E402
from dbdzoo.models import list_models  # noqa: E402


def train_check(name: str, out: Path, steps: int, size: int, batch: int, device: str, smoke: bool) -> dict:
    """Train ``name`` from scratch on synthetic data; did the loss fall and the validation F rise?"""
    overrides = [
        f"model={name}",
        "data=synthetic",
        f"trainer.max_steps={steps}",
        f"trainer.val_every={steps}",
        "trainer.val_at_start=true",
        f"trainer.ckpt_every={steps}",
        f"trainer.device={device}",
        f"data.batch_size={batch}",
        f"data.train.size={size}",
        f"data.val.size={size}",
        "data.val.length=32",
        "data.train.length=4096",
        "logger.tensorboard=false",
        "logger.log_every=10",
        "model.pretrained_backbone=false",
        f"hydra.run.dir={out}",
        f"paths.output_dir={out}",
        "sched=constant",
        "optim=adam",
        "optim.lr=2e-4",
    ]
    if device.startswith("cuda"):
        overrides += ["trainer.precision=bf16", "data.num_workers=4"]
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if smoke:
        from omegaconf import OmegaConf

        OmegaConf.set_struct(cfg, False)
        cfg.model = tiny_model_config(OmegaConf.to_container(cfg.model, resolve=True))
        cfg.objective = tiny_objective_config(name, OmegaConf.to_container(cfg.objective, resolve=True))
    if name == "dmenet":
        from omegaconf import OmegaConf

        OmegaConf.set_struct(cfg, False)
        cfg.data.domains = {
            k: {"name": "synthetic", "split": "train", "length": 4096, "size": size, "seed": i}
            for i, k in enumerate(("syn", "real", "unlabelled"))
        }
        cfg.data.train = None
    t0 = time.perf_counter()
    train(cfg)
    rows = [json.loads(line) for line in (out / "metrics" / "train.jsonl").read_text().splitlines()]
    val = [json.loads(line) for line in (out / "metrics" / "val.jsonl").read_text().splitlines()]
    head = sum(r["loss"] for r in rows[:3]) / min(3, len(rows))
    tail = sum(r["loss"] for r in rows[-3:]) / min(3, len(rows))
    return {
        "model": name,
        "steps": steps,
        "seconds": time.perf_counter() - t0,
        "loss_start": head,
        "loss_end": tail,
        "loss_fell": tail < head,
        "F_start": val[0]["br2net_maxf/F"],
        "F_end": val[-1]["br2net_maxf/F"],
        "F_rose": val[-1]["br2net_maxf/F"] > val[0]["br2net_maxf/F"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--models", default="*")
    p.add_argument("--device", default="auto")
    p.add_argument("--smoke", action="store_true", help="CPU-sized run: tiny backbones, 64 px, few steps")
    p.add_argument("--train-steps", type=int, default=None)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-train", action="store_true")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    names = [n for n in list_models() if any(fnmatch.fnmatch(n, w) for w in args.models.split(","))]
    size, batches = (64, (1, 2)) if args.smoke else (320, (1, 64))
    steps = args.train_steps or (6 if args.smoke else 300)
    report: dict = {"environment": environment(device), "speed": [], "train": [], "errors": {}}
    for name in names if not args.skip_speed else []:
        try:
            over = tiny_overrides(name) if args.smoke else {"pretrained_backbone": False}
            obj = TINY_OBJECTIVE_OVERRIDES.get(name, {}) if args.smoke else {}
            report["speed"].append(
                bench_model(
                    name,
                    device,
                    overrides=over,
                    objective=obj,
                    size=size,
                    batches=batches,
                    compile_mode=None if args.smoke else "default",
                    warmup=1 if args.smoke else 5,
                    iters=2 if args.smoke else 20,
                    train_batch=2 if args.smoke else 8,
                )
            )
        except Exception as exc:  # one broken model must not hide the others' numbers
            report["errors"][f"speed/{name}"] = traceback.format_exc()
            print(f"[speed] {name}: {type(exc).__name__}: {exc}", flush=True)
    if not args.skip_speed:
        report["renderer"] = bench_renderer(device, size=size, batch=4 if args.smoke else 64)
    for name in names if not args.skip_train else []:
        try:
            report["train"].append(
                train_check(
                    name,
                    out / "train" / name,
                    steps,
                    48 if args.smoke else 160,
                    2 if args.smoke else 16,
                    str(device),
                    args.smoke,
                )
            )
        except Exception as exc:
            report["errors"][f"train/{name}"] = traceback.format_exc()
            print(f"[train] {name}: {type(exc).__name__}: {exc}", flush=True)
    (out / "suite.json").write_text(json.dumps(report, indent=2, default=str))
    lines = [f"# GPU suite — {report['environment']}"]
    if report["speed"]:
        lines += ["", model_table(report["speed"], batches)]
    if "renderer" in report:
        lines += ["", f"renderer: {report['renderer']['images_per_s']:.1f} images/s at {size}²"]
    if report["train"]:
        lines += ["", table_header(["model", "steps", "loss start → end", "F start → end", "learned"])]
        lines += [
            table_row([r["model"], r["steps"], f"{r['loss_start']:.3f} → {r['loss_end']:.3f}",
                       f"{r['F_start']:.3f} → {r['F_end']:.3f}", "yes" if r["loss_fell"] and r["F_rose"] else "NO"])
            for r in report["train"]
        ]  # fmt: skip
    if report["errors"]:
        lines += ["", "errors: " + ", ".join(report["errors"])]
    summary = "\n".join(lines)
    (out / "summary.md").write_text(summary + "\n")
    print(summary)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    raise SystemExit(main())
