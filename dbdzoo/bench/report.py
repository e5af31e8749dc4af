"""The benchmark tables: Markdown for people, JSON for machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..metrics.table import table_header, table_row


def _f(x: Any, nd: int = 1) -> str:
    """A number with ``nd`` decimals; ``n/a`` where the measurement did not run."""
    return "n/a" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def model_table(rows: list[dict[str, Any]], batches: tuple[int, ...]) -> str:
    """One line per model: size, FLOPs, throughput fp32-eager vs optimised per batch, train step."""
    big = max(batches)
    head = ["model", "params (M)", "GMACs@320", "GFLOPs@320", "bf16 rel.err"]
    for b in batches:
        head += [f"fp32 b{b} img/s", f"opt b{b} img/s"]
    head += [f"speed-up b{big}", "train fp32 img/s", "train opt img/s", "peak mem (MiB)"]
    lines = [table_header(head)]
    for r in rows:
        cells = [
            r["model"],
            _f(r["params_m"], 2),
            _f(r["gmacs"]),
            _f(r["gflops"]),
            f"{r['bf16_rel_err']:.2e}",
        ]
        for b in batches:
            cells += [_f(r[f"fp32_eager_b{b}"]["images_per_s"]), _f(r[f"optimized_b{b}"]["images_per_s"])]
        cells += [
            f"{r[f'speedup_b{big}']:.2f}×",
            _f(r["train_fp32_eager"]["images_per_s"]),
            _f(r["train_optimized"]["images_per_s"]),
            _f(r[f"fp32_eager_b{big}"]["peak_mem_mb"], 0),
        ]
        lines.append(table_row(cells))
    return "\n".join(lines)


def write_results(out_dir: str | Path, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(payload, indent=2, default=str))
    (out / "bench.md").write_text(markdown + "\n")
    return out / "bench.md", out / "bench.json"
