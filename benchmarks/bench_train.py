"""Training throughput of the real loop per precision / channels_last / compile setting.

Runs `train.py` (quickstart model and data unless overridden) once per setting and reports the median
images/s the loop logged, skipping the first logged interval (warm-up, compilation).

    python benchmarks/bench_train.py --steps 60 [--device cuda] [-- extra hydra overrides]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dbdzoo.bench.train_runs import TrainRunError, median_images_per_s, run_train_steps  # noqa: E402
from dbdzoo.metrics.table import markdown_table  # noqa: E402

SETTINGS = {
    "fp32": [],
    "bf16": ["trainer.precision=bf16"],
    "fp32+channels_last": ["trainer.channels_last=true"],
    "bf16+channels_last": ["trainer.precision=bf16", "trainer.channels_last=true"],
    "bf16+channels_last+compile": [
        "trainer.precision=bf16",
        "trainer.channels_last=true",
        "trainer.compile=default",
    ],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--device", default="auto")
    p.add_argument("--settings", default=",".join(SETTINGS))
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides (after --)")
    args = p.parse_args()
    rows = []
    for name in args.settings.split(","):
        overrides = [f"trainer.max_steps={args.steps}", f"trainer.device={args.device}",
                     f"trainer.val_every={args.steps * 10}", "logger.log_every=10", *SETTINGS[name], *args.overrides]  # fmt: skip
        try:
            logged, _ = run_train_steps(overrides, REPO)
        except TrainRunError as exc:
            rows.append({"setting": name, "error": str(exc)})
            continue
        rows.append({"setting": name, "images_per_s": median_images_per_s(logged)})
    cells = [
        {"setting": r["setting"],
         "train images/s": f"failed: {r['error']}" if "error" in r else f"{r['images_per_s']:.1f}"}
        for r in rows
    ]  # fmt: skip
    print(markdown_table(cells, ["setting", "train images/s"]))


if __name__ == "__main__":
    main()
