"""Result tables (Markdown, CSV, JSON) and PR / F-threshold plots.

Every row names the dataset, the preset, the positive class and the evaluation size, with MAE
alongside, because numbers of different presets are not comparable (docs/metrics.md).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

from dbdzoo.metrics.plots import plot_curves
from dbdzoo.metrics.presets import PRESETS, Preset, get_preset
from dbdzoo.metrics.table import markdown_table

__all__ = ["WARNING", "plot_curves", "write_report"]

_MAIN = ("F", "P", "R", "MAE", "IoU", "AUC", "threshold", "n_images", "n_empty_gt")
_SHOWN_EXTRA = ("S", "E_adp", "E_max", "wF", "MSE")
WARNING = "F-measures of different presets are not comparable with each other (see docs/metrics.md)."


def _preset_row(name: str, presets_info: Mapping[str, Preset | Mapping] | None) -> dict[str, object]:
    info = (presets_info or {}).get(name)
    if info is None and name in PRESETS:
        info = get_preset(name)
    if isinstance(info, Preset):
        return info.as_row()
    return dict(info) if info is not None else {}


def _clean(x: object) -> object:
    """NaN -> None so the JSON is strict."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, Mapping):
        return {k: _clean(v) for k, v in x.items()}
    return x


def write_report(
    results: Mapping[str, Mapping[str, Mapping[str, float]]],
    out_dir: str | Path,
    presets_info: Mapping[str, Preset | Mapping] | None = None,
    run: Mapping[str, object] | None = None,
    show: Callable[[str], object] | None = None,
    write_file: Callable[[Path, Callable[[Path], object]], object] | None = None,
) -> str:
    """Write ``results.md``, ``results.csv`` and ``results.json`` into ``out_dir``.

    Args:
        results: ``{dataset: {preset: {metric: value}}}`` as returned per dataset by
            :meth:`DBDEvaluator.compute`.
        out_dir: created if missing.
        presets_info: preset objects (or their ``as_row()`` dicts) for custom presets; registered
            presets are looked up by name.
        run: what produced the numbers (model reference, weights SHA-256, data roots, versions), stored
            as ``results.json["run"]``.
        show: called with the table before any file is written (``print``), so the numbers reach the
            console even when the disk is full.
        write_file: ``write_file(path, fill)`` creates each file by calling ``fill(path_to_write)``;
            the engine passes ``dbdzoo.files.atomic_write`` so a full disk leaves no torn file.

    Returns:
        The Markdown table (also suitable for printing).
    """
    out = Path(out_dir)
    rows = []
    for dataset, per_preset in results.items():
        for preset, metrics in per_preset.items():
            info = _preset_row(preset, presets_info)
            row = {"dataset": dataset, "preset": preset, "positive": info.get("positive", "?"),
                   "eval_size": info.get("eval_size", "?")}  # fmt: skip
            row.update({k: metrics.get(k, float("nan")) for k in _MAIN})
            row.update({k: v for k, v in metrics.items() if k not in row})
            rows.append(row)
    cols = ["dataset", "preset", "positive", "eval_size", *_MAIN]
    extra = sorted({k for r in rows for k in r} - set(cols))
    used = sorted({r["preset"] for r in rows})
    payload = {"results": _clean(results), "presets": {n: _clean(_preset_row(n, presets_info)) for n in used}}
    if run is not None:
        payload["run"] = _clean(run)
    shown = cols + [k for k in _SHOWN_EXTRA if any(k in r for r in rows)]  # S/E/wF, σ errors when present
    table = markdown_table(rows, shown)
    notes = []
    for name in used:
        info = presets_info.get(name) if presets_info else None
        preset = info if isinstance(info, Preset) else (get_preset(name) if name in PRESETS else None)
        notes.append(f"- {preset.describe()}" if preset else f"- {name}: custom preset")
    if show is not None:
        show(table)  # before any write: a full disk must not take the numbers with it
    out.mkdir(parents=True, exist_ok=True)

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=cols + extra)
            writer.writeheader()
            writer.writerows(rows)

    write = write_file or (lambda path, fill: fill(path))
    write(out / "results.csv", write_csv)
    write(out / "results.json", lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str)))
    text = f"{table}\n\n{WARNING}\n\n" + "\n".join(notes) + "\n"
    write(out / "results.md", lambda tmp: tmp.write_text(text))
    return table
