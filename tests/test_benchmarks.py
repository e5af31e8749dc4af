"""The benchmark tools run (reduced, on CPU) and write their tables; no timing is asserted here."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest
from helpers.child import run_child

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
    proc = run_child(
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
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "suite.json").read_text())
    assert report["speed"][0]["model"] == "fpn" and report["train"][0]["steps"] == 4
    assert {"loss_fell", "F_rose"} <= set(report["train"][0])
    assert proc.stdout.rstrip().splitlines()[-1].startswith("| fpn |")  # the summary table comes last


def test_train_run_helper_reads_logs_and_config_and_names_errors(monkeypatch) -> None:
    """``benchmarks/bench_train.py`` and ``paper_step_times.py`` time training through this helper."""
    from types import SimpleNamespace

    from dbdzoo.bench import train_runs
    from dbdzoo.bench.train_runs import TrainRunError, median_images_per_s, run_train_steps

    # the helper's own deadline (30 min by default) is far longer than a test's: give train.py the tests' one
    deadline_run = SimpleNamespace(run=lambda cmd, cwd, **_: run_child(cmd, cwd=cwd, timeout=120))
    monkeypatch.setattr(train_runs, "subprocess", deadline_run)
    repo = Path(__file__).resolve().parents[1]
    tiny = ["debug=fast", "model.backbone=tiny_vgg", "model.decoder_channels=8", "data.train.size=32",
            "data.val.size=32", "trainer.max_steps=3", "logger.log_every=1"]  # fmt: skip
    rows, config = run_train_steps(tiny, repo)
    assert [r["step"] for r in rows] == [1, 2, 3] and config["trainer"]["max_steps"] == 3
    assert median_images_per_s(rows) == statistics.median(r["images_per_s"] for r in rows[1:])  # no warm-up
    with pytest.raises(TrainRunError, match=r"^train: error: config model\.nope: not an argument"):
        run_train_steps([*tiny, "+model.nope=1"], repo)
    monkeypatch.setattr(train_runs, "subprocess", __import__("subprocess"))  # the helper's own deadline now
    with pytest.raises(TrainRunError, match=r"still running after 0\.5 s; killed"):
        run_train_steps(tiny, repo, timeout_s=0.5)  # python cannot even import torch in 0.5 s
