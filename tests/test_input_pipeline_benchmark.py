"""``benchmarks/input_pipeline.py --smoke`` runs on a tiny CUHK-shaped folder and reports every row; no timing
is asserted (speed goals are measured in benchmarks only)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from helpers.child import run_child
from PIL import Image

from dbdzoo.data import load_split_list

REPO = Path(__file__).resolve().parents[1]


def tiny_cuhk(root: Path, n: int = 8) -> Path:
    """``n`` CUHK training stems (outside the test and val80 lists), two orientations of image."""
    held = set(load_split_list("cuhk_btbnet_test")) | set(load_split_list("cuhk_btbnet_val80"))
    stems = [s for s in (f"out_of_focus{i:04d}" for i in range(1, 705)) if s not in held][:n]
    rng = np.random.default_rng(0)
    (root / "image").mkdir(parents=True)
    (root / "gt").mkdir()
    for i, stem in enumerate(stems):
        h, w = (48, 64) if i % 2 else (64, 48)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / "image" / f"{stem}.jpg")
        Image.fromarray(((rng.random((h, w)) > 0.5) * 255).astype(np.uint8)).save(root / "gt" / f"{stem}.png")
    return root


def test_input_pipeline_smoke_reports_every_row(tmp_path) -> None:
    out = tmp_path / "pipeline.json"
    cmd = [sys.executable, "benchmarks/input_pipeline.py", "--smoke", "--device", "cpu", "--workers", "1",
           "--cuhk-dir", str(tiny_cuhk(tmp_path / "CUHK")), "--json", str(out)]  # fmt: skip
    proc = run_child(cmd, cwd=REPO, timeout=270)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    names = [r["name"] for r in report["rows"]]
    assert names[:5] == ["cuhk per-epoch loader (before)"] + [
        f"cuhk cache={c} augment_on={a}" for c in ("none", "ram") for a in ("worker", "device")
    ]
    assert "synthetic_photoreal (procedural only) render_on=worker" in names
    for row in report["rows"]:
        assert row["loader_images_per_s"] > 0 and row["train_images_per_s"] > 0, row["name"]
        assert row["ratio"] == row["loader_images_per_s"] / row["train_images_per_s"]
        assert len(row["boundary_step_ms"]) == 1 and row["boundary_ratio"] > 0 and row["median_step_ms"] > 0
        assert row["max_other_step_ms"] >= row["median_step_ms"]
    cuhk = report["rows"][1]
    assert (cuhk["batch"], cuhk["size"], cuhk["steps_per_epoch"], cuhk["workers"]) == (2, 32, 4, 1)
    assert (cuhk["cache"], cuhk["augment_on"]) == ("none", "worker") and report["rows"][4]["cache"] == "ram"
    assert report["goals"] == {"ratio": 1.5, "boundary_ratio": 2.0}
    assert proc.stdout.rstrip().splitlines()[-1].startswith("| synthetic_photoreal")  # the table comes last
    assert "train step" in proc.stderr and "boundary steps" in proc.stderr  # progress while running
