"""The benchmark tools run (reduced, on CPU) and write their tables; no timing is asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dbdzoo.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]


def test_dbdzoo_bench_writes_markdown_and_json(tmp_path, capsys) -> None:
    code = cli_main(
        [
            "bench",
            "--models",
            "fpn",
            "--tiny",
            "--size",
            "32",
            "--batches",
            "1,2",
            "--compile",
            "none",
            "--warmup",
            "0",
            "--iters",
            "1",
            "--train-batch",
            "2",
            "--loader-workers",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    payload = json.loads((tmp_path / "bench.json").read_text())
    row = payload["models"][0]
    assert row["model"] == "fpn" and row["gflops"] == 2 * row["gmacs"] > 0
    assert row["fp32_eager_b2"]["images_per_s"] > 0 and row["optimized_b2"]["images_per_s"] > 0
    assert payload["renderer"]["images_per_s"] > 0 and payload["loader"]["images"] > 0
    assert "| fpn |" in (tmp_path / "bench.md").read_text() and "| fpn |" in capsys.readouterr().out


def test_bench_rejects_unknown_models(tmp_path, capsys) -> None:
    assert cli_main(["bench", "--models", "nonet", "--out", str(tmp_path)]) == 1
    assert "matches no registered model" in capsys.readouterr().err


def test_gpu_suite_smoke_run_on_cpu(tmp_path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "benchmarks/gpu_suite.py",
            "--smoke",
            "--models",
            "fpn",
            "--device",
            "cpu",
            "--train-steps",
            "4",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "suite.json").read_text())
    assert report["speed"][0]["model"] == "fpn" and report["train"][0]["steps"] == 4
    assert {"loss_fell", "F_rose"} <= set(report["train"][0])
    assert proc.stdout.rstrip().splitlines()[-1].startswith("| fpn |")  # the summary table comes last
