"""Train the zoo in one GPU slot: synthetic pretraining, then CUHK-TR-1, for each network, inside a budget.

    python benchmarks/gpu_train_zoo.py --budget-s 540 --cuhk-dir CUHK --photos-dir PHOTOS --out OUT \
        --models fpn_resnet10t cenet br2net

Each stage's schedule is sized from a measured probe so it ends on its schedule, not mid-way
(``trainer.time_budget_s``). Writes OUT/weights/<model>.<stage>.safetensors (fp16), OUT/zoo.json,
OUT/zoo.md and OUT/logs.tar.gz, and prints a closing table. ``--smoke`` runs tiny networks on the CPU
(the test suite does). Refusals (unknown model, missing folder, budget too small) come before training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORT_S = 10.0  # the closing report's seconds, kept out of the stages' budgets


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from dbdzoo.zoo_training.plan import ZOO_MODELS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(ZOO_MODELS[:-1]), help="networks, in training order")
    p.add_argument("--budget-s", type=float, required=True, help="seconds for the whole run, report included")
    p.add_argument("--model-budget-s", type=float, help="seconds per network (default: an equal share)")
    p.add_argument(
        "--synthetic-share", type=float, default=0.4, help="fraction of a network's seconds for stage 1"
    )
    p.add_argument("--cuhk-dir", type=Path, required=True, help="CUHK folder with image/ and gt/ (CUHK-TR-1)")
    p.add_argument("--photos-dir", type=Path, required=True, help="sharp photographs for the renderer")
    p.add_argument("--out", type=Path, required=True, help="output folder (weights, zoo.json, zoo.md, logs)")
    p.add_argument("--set", action="append", default=[], metavar="MODEL:KEY=VALUE", help="Hydra override")
    p.add_argument("--synthetic-render", choices=("device", "worker"), default="device",
                   help="render synthetic stages on the GPU (default; 6.7x the CPU workers on an H200) or in workers")  # fmt: skip
    p.add_argument("--precision", choices=("auto", "recipe"), default="auto",
                   help="auto: each stage trains in bf16+channels-last or fp32, whichever a timed step found "
                   "faster here; recipe: as the *_gpu recipe says (bf16+channels-last)")  # fmt: skip
    p.add_argument("--smoke", action="store_true", help="tiny networks on the CPU (seconds per stage)")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep last.pt/best.pt after release")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    import torch

    from dbdzoo.zoo_training import measure, stages
    from dbdzoo.zoo_training import plan as zp

    stages.stop_on_signals()  # a signal stops the running stage (it saves), skips the rest, still reports

    try:
        zp.check_request(args.models, args.cuhk_dir, args.photos_dir)
        per_model = zp.parse_model_overrides(args.set, args.models)
        if not args.smoke and not torch.cuda.is_available():
            raise zp.PlanError("no CUDA GPU here; --smoke runs the tiny CPU version")
        device = torch.device("cpu" if args.smoke else "cuda")
        reserve = REPORT_S + 10.0 * len(args.models)  # the measured steps and the report
        budgets = zp.split_budget(
            args.models, args.budget_s, args.model_budget_s, args.synthetic_share, reserve
        )
    except zp.PlanError as exc:
        print(f"gpu_train_zoo: {exc}", file=sys.stderr)
        return 2
    plans = [zp.StagePlan(m, s, zp.experiment_of(m, s), budgets[m, s], per_model[m])
             for m in args.models for s in zp.STAGES]  # fmt: skip
    step_s, choices, failed = {}, {}, []
    # measured steps: they size the refusal below, pick each stage's precision and find broken builds early
    for model in args.models:
        try:
            step_s[model], choices[model] = measure.measure_model(
                model, device, smoke=args.smoke, precision=args.precision, overrides=per_model[model]
            )
        except Exception as exc:
            failed.append({"model": model, "stage": "measure", "error": f"{type(exc).__name__}: {exc}"[:300]})
            print(f"measured {model}: failed ({failed[-1]['error']})")
    left = args.budget_s - (time.perf_counter() - started) - REPORT_S
    plans = zp.fit_to_time(plans, step_s, choices, left)
    startup = zp.DEFAULT_STARTUP_S[device.type]
    try:
        zp.check_fits(plans, step_s, startup, probe_steps=5 if args.smoke else 20)
    except zp.PlanError as exc:
        print(f"gpu_train_zoo: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    common = [f"paths.cuhk_dir={args.cuhk_dir.resolve()}", f"paths.photos_dir={args.photos_dir.resolve()}"]
    records = failed + stages.train_zoo(plans, repo=REPO, out=args.out, common=common, startup_s=startup,
                                        smoke=args.smoke, keep_checkpoints=args.keep_checkpoints,
                                        synthetic_render=args.synthetic_render)  # fmt: skip
    wall = time.perf_counter() - started
    summary = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu (smoke)",
               "budget_s": args.budget_s, "wall_s": round(wall, 1), "models": args.models,
               "step_s_measured": step_s, "precision": choices, "stages": records}  # fmt: skip
    (args.out / "zoo.json").write_text(json.dumps(summary, indent=2, default=str))
    text = stages.table(records) + "".join(f"\n{line}" for line in measure.precision_lines(choices))
    (args.out / "zoo.md").write_text(
        f"{summary['device']}, {wall:.0f} s of {args.budget_s:.0f} s\n\n{text}\n"
    )
    stages.bundle_logs(args.out)
    print(f"\n{text}\n\n{wall:.0f} s of a {args.budget_s:.0f} s budget; results in {args.out}")
    return 0 if all(not r.get("error") for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
