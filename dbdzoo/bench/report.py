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


VARIANT_LABELS = {
    "fp32": "fp32",
    "bf16": "bf16",
    "bf16_cl": "bf16+CL",
    "bf16_cl_det": "bf16+CL deterministic",
    "bf16_cl_cudnn_bench": "bf16+CL cudnn.benchmark",
    "bf16_cl_compile": "bf16+CL+compile",
    "bf16_cl_compile_step": "bf16+CL+compile(net+loss)",
}


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f} %"


def train_table(rows: list[dict[str, Any]]) -> str:
    """Training img/s per precision/layout/compile combination, the fastest one, and the ones that lose.

    "slower than fp32" names every optimised combination below fp32 eager for that model: the trainer
    must not pick one of those silently. Shares are of the measured bf16 matmul rate (train GFLOPs =
    forward + objective + backward of one image).
    """
    variants = [v for v in VARIANT_LABELS if any(v in r.get("train", {}) for r in rows)]
    head = ["model", "train GFLOPs/img"] + [f"{VARIANT_LABELS[v]} img/s" for v in variants]
    head += ["fastest", "× fp32", "slower than fp32", "matmul share (fastest)", "matmul share (infer opt)",
             "max host reads / CUDA syncs per step"]  # fmt: skip
    lines = [table_header(head)]
    for r in rows:
        train, share = r.get("train", {}), r.get("matmul_share", {})
        best = r.get("train_best")
        infer = next((v for k, v in share.items() if k.startswith("infer_")), None)
        fp32 = train.get("fp32", {})
        reads = [t["host_reads"] for t in train.values() if "host_reads" in t]
        cuda = [t["cuda_syncs"] for t in train.values() if "cuda_syncs" in t]
        cells = [r["model"], _f(fp32.get("train_gflops"), 2)]
        cells += [_f(train[v]["images_per_s"]) if v in train else "–" for v in variants]
        cells += [VARIANT_LABELS.get(best, "n/a"), "n/a" if r.get("train_best_vs_fp32") is None
                  else f"{r['train_best_vs_fp32']:.2f}×"]  # fmt: skip
        slower = r.get("train_slower_than_fp32") or []
        cells += ["**" + ", ".join(VARIANT_LABELS[v] for v in slower) + "**" if slower else "none"]
        cells += [_pct(share.get(f"train_{best}")), _pct(infer)]
        cells += [f"{max(reads, default='n/a')}" + (f" / {max(cuda)}" if cuda else "")]
        lines.append(table_row(cells))
    return "\n".join(lines)


def op_table(rows: list[dict[str, Any]]) -> str:
    """Forward+backward ms of the decoder's building blocks per precision and layout (``bench.ops``)."""
    cols = ["fp32", "bf16", "bf16_via_fp32", "bf16_cl", "bf16_cl_via_fp32"]
    lines = [table_header(["case", "input", *[f"{c} ms" for c in cols]])]
    for r in rows:
        cells = [r["case"], "×".join(map(str, r["shape"])) + f" → {r['out']}²"]
        lines.append(table_row(cells + [_f(r[c], 3) if c in r else "–" for c in cols]))
    return "\n".join(lines)


def write_results(out_dir: str | Path, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(payload, indent=2, default=str))
    (out / "bench.md").write_text(markdown + "\n")
    return out / "bench.md", out / "bench.json"
