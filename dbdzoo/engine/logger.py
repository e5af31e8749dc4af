"""Run logging: JSONL and CSV always, TensorBoard when installed; rank 0 only."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..metrics.table import markdown_table


class MetricLogger:
    """Appends metric rows to ``<run>/metrics/<split>.jsonl`` and ``.csv`` (and TensorBoard).

    ``resume_step``: the step of the checkpoint a run resumes from. Rows the killed run logged after it
    would be logged again, so they are dropped first (JSONL and CSV; TensorBoard hides them through
    ``purge_step``) and the logs hold each step once.
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        enabled: bool = True,
        tensorboard: bool = True,
        resume_step: int | None = None,
    ) -> None:
        self.dir = Path(run_dir) / "metrics"
        self.enabled = enabled
        self._tb = None
        if enabled:
            self.dir.mkdir(parents=True, exist_ok=True)
            if resume_step is not None:
                self.truncate_after(resume_step)
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                except ImportError:  # optional extra
                    SummaryWriter = None
                if SummaryWriter is not None:
                    purge = None if resume_step is None else resume_step + 1  # hides events at >= purge
                    self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"), purge_step=purge)
                else:
                    print(
                        "logger.tensorboard=true but tensorboard is not installed: metrics go to "
                        f"{self.dir}/*.csv and *.jsonl only (pip install 'dbdzoo[tensorboard]', or set "
                        "logger.tensorboard=false)"
                    )

    def truncate_after(self, step: int) -> None:
        """Drop every row with ``step`` > ``step`` from each split's JSONL and rebuild its CSV.

        A half-written last line (the run was killed mid-write) is dropped too; any other line that is
        not a JSON row with a ``step`` is an error naming the file and line.
        """
        for jsonl in sorted(self.dir.glob("*.jsonl")):
            lines = jsonl.read_text().splitlines()
            kept = []
            for i, line in enumerate(lines, 1):
                try:
                    row = json.loads(line) if line.strip() else None
                except json.JSONDecodeError:
                    if i == len(lines):
                        continue  # torn final write of the killed run
                    raise ValueError(f"{jsonl}:{i}: not a JSON metrics row: {line[:80]!r}") from None
                if row is None:
                    continue
                if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                    raise ValueError(
                        f"{jsonl}:{i}: expected a JSON object with an integer 'step', got {line[:80]!r}"
                    )
                if row["step"] <= step:
                    kept.append(row)
            tmp = jsonl.with_name(jsonl.name + ".tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
            tmp.replace(jsonl)  # atomic: a second kill leaves the old or the new file, never half of one
            self._write_csv(jsonl.with_suffix(".csv"), kept)

    def log(self, split: str, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        row = {"step": step, "time": round(time.time(), 3), **{k: float(v) for k, v in values.items()}}
        jsonl = self.dir / f"{split}.jsonl"
        with open(jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")
        self._append_csv(self.dir / f"{split}.csv", jsonl, row)
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"{split}/{k}", float(v), step)

    @staticmethod
    def _append_csv(path: Path, jsonl: Path, row: dict[str, Any]) -> None:
        """Append a row; when a new column appears, rebuild the CSV from the JSONL (whole history)."""
        header = path.read_text().split("\n", 1)[0].split(",") if path.is_file() else None
        if header is not None and set(row) <= set(header):
            with open(path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=header).writerow(row)
            return
        MetricLogger._write_csv(path, [json.loads(line) for line in jsonl.read_text().splitlines() if line])

    @staticmethod
    def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
        """The whole CSV from rows (columns: every key, in order seen); none left removes it."""
        if not rows:
            path.unlink(missing_ok=True)
            return
        fields = list(dict.fromkeys(k for r in rows for k in r))
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def progress_enabled(is_main: bool, requested: bool = True) -> bool:
    """tqdm only on rank 0 and only when stderr is a terminal (logs stay readable in CI and files)."""
    return is_main and requested and sys.stderr.isatty()


def summary_table(
    results: dict[str, float],
    baseline: dict[str, float] | None = None,
    constant: dict[str, float] | None = None,
) -> str:
    """Validation results, one row per preset (``F``, ``P``, ``R``, ``MAE``, ``IoU``) plus the step-0 F.

    ``constant`` (the all-blur map's scores) adds a row under each preset: F of "everything is blurred"
    is the blur fraction, often 0.7+, so a model's F means something only above it.
    """

    def by_preset(values: dict[str, float]) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for key, value in values.items():
            preset, _, metric = key.rpartition("/")
            out.setdefault(preset, {})[metric] = value
        return out

    floor = by_preset(constant or {})
    rows = []
    for preset, m in by_preset(results).items():
        row: dict[str, Any] = {"preset": preset, "model": "trained"}
        row.update({k: m[k] for k in ("F", "P", "R", "MAE", "IoU", "MSE") if k in m})
        if baseline and f"{preset}/F" in baseline:
            row["F at step 0"] = baseline[f"{preset}/F"]
        rows.append(row)
        if preset in floor:
            c = floor[preset]
            rows.append({"preset": preset, "model": "all-blur constant", **{k: c[k] for k in row if k in c}})
    return markdown_table(rows)
