"""Speed and size benchmarks (``dbdzoo bench``, ``benchmarks/gpu_suite.sh``); never timed in tests."""

from .data import bench_loader, bench_renderer
from .models import bench_model, bf16_relative_error, count_flops
from .report import model_table, write_results
from .timing import environment, time_call

__all__ = [
    "bench_loader",
    "bench_model",
    "bench_renderer",
    "bf16_relative_error",
    "count_flops",
    "environment",
    "model_table",
    "time_call",
    "write_results",
]
