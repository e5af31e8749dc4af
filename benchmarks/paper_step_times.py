"""Seconds per training step of the paper networks' two-stage recipes on this machine, and what a full run costs.

    python benchmarks/paper_step_times.py --cuhk ../shared/data/cuhk-tr1 --photos ../shared/data/photos

Not a test. Runs ``train.py`` for a few steps of every ``<model>_synthetic`` (stage 1) and
``<model>_synthetic_cuhk`` (stage 2) experiment with the real architecture, skips the first logged step
(warm-up) and reports the median seconds per optimiser step and the hours the recipe's ``max_steps`` take.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dbdzoo.bench.train_runs import TrainRunError, median_images_per_s, run_train_steps  # noqa: E402
from dbdzoo.metrics.table import table_header, table_row  # noqa: E402

MODELS = ("br2net", "defusionnet", "defusionnet_tpami", "cenet", "btbnet", "btbcrl")


def time_steps(experiment: str, steps: int, overrides: list[str]) -> dict:
    """Median s/step (after the first) and the recipe's max_steps, from the run's train.jsonl."""
    try:
        rows, config = run_train_steps(
            [f"experiment={experiment}", f"trainer.stop_after={steps}", "logger.log_every=1",
             "logger.progress_bar=false", "data.num_workers=0", *overrides],
            REPO,
        )  # fmt: skip
    except TrainRunError as exc:
        return {"error": str(exc)}
    max_steps, batch = int(config["trainer"]["max_steps"]), int(config["data"]["batch_size"])
    s_per_step = batch / median_images_per_s(rows)
    return {
        "s_per_step": s_per_step,
        "max_steps": max_steps,
        "hours": s_per_step * max_steps / 3600,
        "batch": batch,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cuhk", required=True, help="CUHK root for stage 2")
    p.add_argument("--photos", required=True, help="photo folder for stage 1")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--models", default=",".join(MODELS))
    args = p.parse_args()
    print(table_header(["model", "stage", "batch", "s/step", "max_steps", "full run (h)"]), flush=True)
    for model in args.models.split(","):
        for stage, exp, extra in (
            ("1 synthetic", f"{model}_synthetic", [f"paths.photos_dir={args.photos}"]),
            (
                "2 CUHK-TR-1",
                f"{model}_synthetic_cuhk",
                [f"paths.cuhk_dir={args.cuhk}", "trainer.init_from=null"],
            ),
        ):
            r = time_steps(exp, args.steps, extra)
            if "error" in r:
                print(table_row([model, stage, "", f"failed: {r['error']}", "", ""]), flush=True)
            else:
                cells = [
                    model,
                    stage,
                    r["batch"],
                    f"{r['s_per_step']:.2f}",
                    r["max_steps"],
                    f"{r['hours']:.1f}",
                ]
                print(table_row(cells), flush=True)


if __name__ == "__main__":
    main()
