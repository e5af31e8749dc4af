"""The one Markdown table writer used by reports, the training summary and the benchmark tables."""

from __future__ import annotations

from dbdzoo.bench.report import model_table
from dbdzoo.engine.logger import summary_table
from dbdzoo.metrics.table import format_cell, markdown_table, table_header, table_row


def test_cells_rows_and_missing_values():
    assert format_cell("F", 0.123456) == "0.1235" and format_cell("n_images", 12.0) == "12"
    assert format_cell("F", float("nan")) == "-" and format_cell("F", None) == "-"
    assert format_cell("eval_size", 320) == "320" and format_cell("preset", "sg_cvpr21") == "sg_cvpr21"
    assert table_header(["a", "b"]) == "| a | b |\n|---|---|"
    assert table_row(["x|y", 3]) == "| x\\|y | 3 |"  # a pipe in a cell does not split it
    rows = [{"preset": "p", "F": 0.5}, {"preset": "q", "MAE": 0.25}]
    assert (
        markdown_table(rows) == "| preset | F | MAE |\n|---|---|---|\n| p | 0.5000 | - |\n| q | - | 0.2500 |"
    )
    assert markdown_table([]) == "(no results)"


def test_training_summary_uses_the_shared_writer():
    out = summary_table({"br2net_maxf/F": 0.8, "br2net_maxf/MAE": 0.1}, {"br2net_maxf/F": 0.7},
                        {"br2net_maxf/F": 0.75})  # fmt: skip
    lines = out.splitlines()
    assert lines[0] == "| preset | model | F | MAE | F at step 0 |" and lines[1] == "|---|---|---|---|---|"
    assert lines[2] == "| br2net_maxf | trained | 0.8000 | 0.1000 | 0.7000 |"
    assert lines[3] == "| br2net_maxf | all-blur constant | 0.7500 | - | - |"  # missing: '-', as in reports


def test_benchmark_table_keeps_its_own_number_formats():
    speed = {"images_per_s": 12.34, "peak_mem_mb": 100.0}
    row = {"model": "fpn", "params_m": 1.234, "gmacs": 2.0, "gflops": 4.0, "bf16_rel_err": 1.5e-3,
           "fp32_eager_b1": speed, "optimized_b1": speed, "speedup_b1": 1.0,
           "train_fp32_eager": {"images_per_s": None}, "train_optimized": speed}  # fmt: skip
    lines = model_table([row], (1,)).splitlines()
    assert lines[1] == "|" + "---|" * 11
    assert lines[2] == "| fpn | 1.23 | 2.0 | 4.0 | 1.50e-03 | 12.3 | 12.3 | 1.00× | n/a | 12.3 | 100 |"
