"""``benchmarks/camera_photo.py`` on a small photo: it runs ``dbdzoo predict`` in fresh processes, reports wall,
CPU and peak RSS per run, and the written map agrees with the float reference; no timing is asserted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from helpers.child import run_child
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def test_camera_photo_benchmark_reports_runs_and_the_map_matches(tmp_path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    out = tmp_path / "camera.json"
    cmd = [sys.executable, "benchmarks/camera_photo.py", "--photo", str(tmp_path / "photo.png"), "--size", "1200x800",
           "--repeat", "2", "--json", str(out), "--", "--threads", "1"]  # fmt: skip
    proc = run_child(cmd, cwd=REPO, timeout=270)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["size"] == [1200, 800] and len(report["runs"]) == 2
    for run in report["runs"]:
        assert run["wall_s"] > 0 and run["cpu_s"] > 0 and 0.05 < run["rss_gb"] < 8
    assert report["min_wall_s"] == min(r["wall_s"] for r in report["runs"])
    assert report["max_rss_gb"] == max(r["rss_gb"] for r in report["runs"])
    assert 0 <= report["max_diff_levels"] <= 1  # the 8-bit resize stays within one grey level
    assert report["command"] == "dbdzoo predict camera.jpg --threads 1"
    assert "MP JPEG → blur PNG" in proc.stdout and "goal ≤ 3.0 s" in proc.stdout
