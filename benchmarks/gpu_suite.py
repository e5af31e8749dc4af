"""The GPU check suite: op diagnosis, speed per model and training combination, short training runs.

In order of priority, each section skipped once ``--deadline-s`` has passed (the summary is always
written): the measured bf16 matmul rate; forward+backward of the decoder's building blocks per
precision/layout (``dbdzoo.bench.ops``); per model inference fp32 vs bf16+channels_last and training in
fp32, bf16, bf16+channels_last and the latter under the trainer's deterministic mode (FLOPs, host reads
and CUDA syncs per step, share of the matmul rate); ``torch.compile`` training (network, or network +
objective) and inference for the first of ``--compile-models``; the renderer; a few hundred training
steps per model (did the loss fall, did F rise); compile for the other ``--compile-models``.
``suite.json`` is rewritten after every model. The closing table names the fastest training
combination per model and flags every optimised one slower than fp32 eager. ``--smoke`` runs the same
code reduced on the CPU (the tests do).

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
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dbdzoo.bench import (  # noqa: E402
    bench_inference,
    bench_model,
    bench_ops,
    bench_renderer,
    bench_train_step,
    environment,
    matmul_tflops,
    model_table,
    op_table,
    summarize_train,
    train_table,
)
from dbdzoo.bench.tiny import (  # noqa: E402
    TINY_OBJECTIVE_OVERRIDES,
    tiny_model_config,
    tiny_objective_config,
    tiny_overrides,
)
from dbdzoo.engine import train  # noqa: E402
from dbdzoo.engine.dist import resolve_device  # noqa: E402
from dbdzoo.metrics.table import table_header, table_row  # noqa: E402
from dbdzoo.zoo import create_model, list_models  # noqa: E402


def train_check(name: str, out: Path, steps: int, size: int, batch: int, device: str, smoke: bool) -> dict:
    """Train ``name`` from scratch on synthetic data; did the loss fall and the validation F rise?"""
    overrides = [
        f"model={name}", "data=synthetic", f"trainer.max_steps={steps}", f"trainer.val_every={steps}",
        "trainer.val_at_start=true", f"trainer.ckpt_every={steps}", f"trainer.device={device}",
        f"data.batch_size={batch}", f"data.train.size={size}", f"data.val.size={size}", "data.val.length=32",
        "data.train.length=4096", "logger.tensorboard=false", "logger.log_every=10",
        "model.pretrained_backbone=false", f"hydra.run.dir={out}", f"paths.output_dir={out}",
        "sched=constant", "optim=adam", "optim.lr=2e-4",
    ]  # fmt: skip
    if device.startswith("cuda"):
        overrides += ["trainer.precision=bf16", "data.num_workers=4"]
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    if smoke or name == "dmenet":
        OmegaConf.set_struct(cfg, False)
    if smoke:
        cfg.model = tiny_model_config(OmegaConf.to_container(cfg.model, resolve=True))
        cfg.objective = tiny_objective_config(name, OmegaConf.to_container(cfg.objective, resolve=True))
    if name == "dmenet":
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
    f0, f1 = val[0]["br2net_maxf/F"], val[-1]["br2net_maxf/F"]
    return {"model": name, "steps": steps, "seconds": time.perf_counter() - t0, "loss_start": head,
            "loss_end": tail, "loss_fell": tail < head, "F_start": f0, "F_end": f1, "F_rose": f1 > f0}  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--models", default="*", help="comma-separated patterns, measured in this order")
    p.add_argument("--device", default="auto")
    p.add_argument("--smoke", action="store_true", help="CPU-sized run: tiny backbones, 64 px, few steps")
    p.add_argument("--train-steps", type=int, default=None)
    p.add_argument("--batches", default=None, help="inference batch sizes (default 1,16; smoke 1,2)")
    p.add_argument(
        "--train-variants",
        default="fp32,bf16,bf16_cl,bf16_cl_det,bf16_cl_cudnn_bench",
        help="uncompiled training combinations",
    )
    p.add_argument("--compile-models", default=None, help="patterns measured with torch.compile too "
                   "(default fpn_resnet10t,br2net; none in --smoke)")  # fmt: skip
    p.add_argument("--compile-variants", default="bf16_cl_compile,bf16_cl_compile_step")
    p.add_argument("--compile-mode", default="default")
    p.add_argument("--deadline-s", type=float, default=None, help="skip what would start after this many s")
    p.add_argument("--skip-ops", action="store_true")
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-train", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    end = time.monotonic() + args.deadline_s if args.deadline_s is not None else float("inf")

    def pick(patterns: str) -> list[str]:
        """Models matching the patterns, in the patterns' order: a short slot measures the first ones."""
        known = list_models(trainable=True)
        picked = [n for w in patterns.split(",") for n in known if fnmatch.fnmatch(n, w)]
        return list(dict.fromkeys(picked))

    names = pick(args.models)
    compile_names = [n for n in pick(args.compile_models or ("" if args.smoke else "fpn_resnet10t,br2net"))
                     if n in names]  # fmt: skip
    size = 64 if args.smoke else 320
    batches = tuple(int(b) for b in (args.batches or ("1,2" if args.smoke else "1,16")).split(","))
    shape = {"warmup": 1, "iters": 2} if args.smoke else {"warmup": 3, "iters": 10}
    train_batch = 2 if args.smoke else 8
    steps = args.train_steps or (6 if args.smoke else 300)
    report: dict = {"environment": environment(device), "ops": [], "speed": [], "train": [], "errors": {},
                    "skipped": []}  # fmt: skip

    def save() -> None:
        (out / "suite.json").write_text(json.dumps(report, indent=2, default=str))

    def attempt(key: str, fn, need_s: float = 0.0) -> object:
        """``fn()`` unless fewer than ``need_s`` seconds are left; errors are recorded, not raised."""
        if time.monotonic() + need_s > end:
            report["skipped"].append(key)
            return None
        try:
            return fn()
        except Exception as exc:  # one broken model must not hide the others' numbers
            report["errors"][key] = traceback.format_exc()
            print(f"[{key}] {type(exc).__name__}: {exc}", flush=True)
            return None
        finally:
            save()

    rate = attempt("matmul", lambda: matmul_tflops(device))
    report["matmul_bf16_tflops"] = rate
    if not args.skip_ops:
        report["ops"] = attempt("ops", lambda: bench_ops(device, size=size, batch=train_batch, **shape)) or []

    def over(n: str) -> dict:
        return tiny_overrides(n) if args.smoke else {"pretrained_backbone": False}

    def obj(n: str) -> dict:
        return TINY_OBJECTIVE_OVERRIDES.get(n, {}) if args.smoke else {}

    rows = {}
    for name in names if not args.skip_speed else []:
        row = attempt(f"speed/{name}", lambda n=name: bench_model(
            n, device, overrides=over(n), objective=obj(n), size=size, batches=batches, compile_mode=None,
            train_batch=train_batch, train_variants=tuple(args.train_variants.split(",")), matmul_tflops=rate,
            **shape), need_s=20)  # fmt: skip
        if row:
            rows[name] = row
            report["speed"].append(row)

    def compiled(n: str) -> None:
        """Training with each ``--compile-variants`` entry, then compiled bf16+CL inference."""
        row, big = rows[n], max(batches)
        for variant in args.compile_variants.split(","):
            row["train"][variant] = bench_train_step(
                n, over(n), device, train_batch, size, variant=variant, compile_mode=args.compile_mode,
                objective_kwargs=obj(n), diagnose=True, warmup=2, iters=shape["iters"])  # fmt: skip
            summarize_train(row, rate)
            save()
        model = create_model(n, **over(n)).to(device).eval()
        row[f"compiled_b{big}"] = bench_inference(
            model, device, big, size, optimized=True, compile_mode=args.compile_mode, **shape)  # fmt: skip

    compile_queue = [n for n in compile_names if n in rows]  # compiling is slow: after every eager number
    for name in compile_queue[:1]:  # the first before the training runs, the others after them
        attempt(f"compile/{name}", lambda n=name: compiled(n), need_s=150)
    if not args.skip_speed:
        report["renderer"] = attempt(
            "renderer", lambda: bench_renderer(device, size=size, batch=4 if args.smoke else 64)
        )
    for name in names if not args.skip_train else []:
        row = attempt(f"train/{name}", lambda n=name: train_check(
            n, out / "train" / n, steps, 48 if args.smoke else 160, 2 if args.smoke else 16, str(device),
            args.smoke), need_s=30)  # fmt: skip
        if row:
            report["train"].append(row)
    for name in compile_queue[1:]:
        attempt(f"compile/{name}", lambda n=name: compiled(n), need_s=150)
    save()
    summary = summarize(report, batches, size, out)
    (out / "summary.md").write_text(summary + "\n")
    print(summary)
    return 1 if report["errors"] else 0


def summarize(report: dict, batches: tuple[int, ...], size: int, out: Path) -> str:
    """The short Markdown summary; the training-combination table (fastest per model) comes last."""
    env = report["environment"]
    lines = [f"# GPU suite — {env}", "", f"Input {size}²; optimised = bf16 autocast + channels_last."]
    if report.get("matmul_bf16_tflops"):
        lines.append(f"Measured bf16 matmul rate: {report['matmul_bf16_tflops']:.1f} TFLOP/s.")
    if report["ops"]:
        lines += [
            "",
            "Forward + backward of the decoder's building blocks (ms):",
            "",
            op_table(report["ops"]),
        ]
    if report["speed"]:
        lines += ["", model_table(report["speed"], batches)]
        compiled = [r for r in report["speed"] if f"compiled_b{max(batches)}" in r]
        lines += [f"{r['model']}: compiled bf16+CL inference b{max(batches)} "
                  f"{r[f'compiled_b{max(batches)}']['images_per_s']:.1f} img/s" for r in compiled]  # fmt: skip
    if report.get("renderer"):
        lines += ["", f"renderer: {report['renderer']['images_per_s']:.1f} images/s at {size}²"]
    if (out / "input_pipeline.json").is_file():
        lines += ["", f"input pipeline (benchmarks/input_pipeline.py): see {out / 'input_pipeline.json'}"]
    if report["train"]:
        lines += ["", table_header(["model", "steps", "loss start → end", "F start → end", "learned"])]
        lines += [
            table_row([r["model"], r["steps"], f"{r['loss_start']:.3f} → {r['loss_end']:.3f}",
                       f"{r['F_start']:.3f} → {r['F_end']:.3f}", "yes" if r["loss_fell"] and r["F_rose"] else "NO"])
            for r in report["train"]
        ]  # fmt: skip
    if report["errors"] or report["skipped"]:
        lines += ["", "errors: " + (", ".join(report["errors"]) or "none")]
        lines += ["skipped (deadline): " + (", ".join(report["skipped"]) or "none")]
    if report["speed"]:
        lines += ["", "Training per combination (fastest per model; **bold** = slower than fp32 eager):", ""]
        lines.append(train_table(report["speed"]))
    return "\n".join(lines)


if __name__ == "__main__":
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    raise SystemExit(main())
