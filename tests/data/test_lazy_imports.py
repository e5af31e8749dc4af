"""``import dbdzoo.data`` registers every dataset but loads albumentations only when a transform is asked for."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers.child import run_child

REPO = Path(__file__).resolve().parents[2]
CODE = """
import json, sys
import dbdzoo.data as data
before = "albumentations" in sys.modules
names = data.list_datasets()
from dbdzoo.data import build_transform, seed_worker
print(json.dumps({"before": before, "names": names, "after": "albumentations" in sys.modules,
                  "same": data.transforms.build_transform is build_transform
                  and data.seeding.seed_worker is seed_worker}))
"""


def test_datasets_register_without_albumentations_and_transforms_load_on_demand() -> None:
    proc = run_child([sys.executable, "-c", CODE], cwd=REPO, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["before"] is False and report["after"] is True and report["same"] is True
    assert {"cuhk", "dut", "synthetic"} <= set(report["names"])
