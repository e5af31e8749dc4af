"""The training-combination table names the fastest combination and flags the ones slower than fp32."""

from __future__ import annotations

import pytest

from dbdzoo.bench import TRAIN_VARIANTS, summarize_train, train_table
from dbdzoo.bench.rates import matmul_share


def _row() -> dict:
    speed = {"fp32": 706.0, "bf16": 650.0, "bf16_cl": 542.0, "bf16_cl_compile": 900.0}
    train = {k: {"images_per_s": v, "host_reads": 0, "cuda_syncs": 0} for k, v in speed.items()}
    train["fp32"]["train_gflops"] = 21.0
    return {
        "model": "fpn_resnet10t",
        "gflops": 7.0,
        "optimized_b16": {"images_per_s": 7490.0},
        "train": train,
    }


def test_fastest_combination_and_slower_than_fp32_flags() -> None:
    row = summarize_train(_row(), matmul_tflops=700.0)
    assert row["train_best"] == "bf16_cl_compile"
    assert row["train_best_vs_fp32"] == pytest.approx(900 / 706)
    assert row["train_slower_than_fp32"] == ["bf16", "bf16_cl"]
    assert row["matmul_share"]["train_bf16_cl_compile"] == pytest.approx(21.0 * 900 / 700e3)
    assert row["matmul_share"]["infer_opt_b16"] == pytest.approx(matmul_share(7.0, 7490.0, 700.0))
    head, rule, line = train_table([row]).splitlines()
    cells = [c.strip() for c in line.strip("|").split("|")]
    named = dict(zip([c.strip() for c in head.strip("|").split("|")], cells, strict=True))
    assert named["fastest"] == "bf16+CL+compile" and named["× fp32"] == "1.27×"
    assert named["slower than fp32"] == "**bf16, bf16+CL**"
    assert named["bf16+CL img/s"] == "542.0" and named["matmul share (fastest)"] == "3 %"
    assert named["max host reads / CUDA syncs per step"] == "0 / 0"


def test_a_model_whose_optimised_paths_all_win_has_no_flag_and_fp32_is_the_baseline() -> None:
    row = _row()
    row["train"]["bf16_cl"]["images_per_s"] = row["train"]["bf16"]["images_per_s"] = 800.0
    row = summarize_train(row)  # no matmul rate: no shares, the rest still reported
    assert row["train_slower_than_fp32"] == [] and "matmul_share" not in row
    assert "| none |" in train_table([row])
    assert next(iter(TRAIN_VARIANTS)) == "fp32"  # the baseline every flag is relative to
