"""Speed and size benchmarks (``dbdzoo bench``, ``benchmarks/gpu_suite.sh``); never timed in tests."""

from .data import bench_loader, bench_renderer
from .models import bench_inference, bench_model, bf16_relative_error, count_flops, summarize_train
from .ops import bench_ops
from .rates import matmul_share, matmul_tflops
from .report import model_table, op_table, train_table, write_results
from .timing import environment, time_call
from .train_step import TRAIN_VARIANTS, Combo, bench_train_step

__all__ = [
    "TRAIN_VARIANTS",
    "Combo",
    "bench_inference",
    "bench_loader",
    "bench_model",
    "bench_ops",
    "bench_renderer",
    "bench_train_step",
    "bf16_relative_error",
    "count_flops",
    "environment",
    "matmul_share",
    "matmul_tflops",
    "model_table",
    "op_table",
    "summarize_train",
    "time_call",
    "train_table",
    "write_results",
]
