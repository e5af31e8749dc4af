"""Training throughput of the real loop per precision / channels_last / compile setting.

Runs `train.py` (quickstart model and data unless overridden) once per setting and reports the median
images/s the loop logged, skipping the first logged interval (warm-up, compilation).

    python benchmarks/bench_train.py --steps 60 [--device cuda] [-- extra hydra overrides]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

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
        with tempfile.TemporaryDirectory() as run:
            cmd = [
                sys.executable,
                "train.py",
                f"trainer.max_steps={args.steps}",
                f"trainer.device={args.device}",
                f"trainer.val_every={args.steps * 10}",
                "trainer.val_at_start=false",
                "validate_at_end=false",
                "logger.log_every=10",
                "logger.tensorboard=false",
                f"hydra.run.dir={run}",
                *SETTINGS[name],
                *args.overrides,
            ]
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
            if proc.returncode != 0:
                rows.append({"setting": name, "error": proc.stderr.strip().splitlines()[-1][:200]})
                continue
            logged = [
                json.loads(line) for line in (Path(run) / "metrics" / "train.jsonl").read_text().splitlines()
            ]
            ips = [r["images_per_s"] for r in logged[1:]] or [logged[0]["images_per_s"]]
            rows.append({"setting": name, "images_per_s": statistics.median(ips)})
    cells = [
        {"setting": r["setting"],
         "train images/s": f"failed: {r['error']}" if "error" in r else f"{r['images_per_s']:.1f}"}
        for r in rows
    ]  # fmt: skip
    print(markdown_table(cells, ["setting", "train images/s"]))


if __name__ == "__main__":
    main()
