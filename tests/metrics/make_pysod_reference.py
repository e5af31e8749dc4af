"""Regenerate ``pysod_reference.json``: PySODMetrics' S-measure, E-measure and weighted F on the oracle maps.

PySODMetrics 1.6.2 pins numpy < 2.3.5 and opencv < 5, which the dbdzoo environment is past, so it runs
in an environment of its own, outside the repository (it needs no torch and no dbdzoo)::

    python3 -m venv ../pysod-env && ../pysod-env/bin/pip install pysodmetrics==1.6.2
    ../pysod-env/bin/python tests/metrics/make_pysod_reference.py

The maps come from ``pysod_cases.py`` (a platform-independent hash), so the file stores only scores.
Scores use PySODMetrics' ``normalize=False`` path (pred float in [0, 1], GT bool), the one dbdzoo
follows; the E curve is stored in PySODMetrics' order (threshold 255 first).
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import py_sod_metrics as sod

sys.path.insert(0, str(Path(__file__).parent))
from pysod_cases import cases, last_row_gt  # noqa: E402

OUT = Path(__file__).with_name("pysod_reference.json")
CURVE_AT = (0, 1, 55, 127, 128, 200, 254, 255)  # PySODMetrics curve positions kept per image


def num(x: float) -> float | None:
    """NaN as ``null`` so the file stays strict JSON."""
    return None if np.isnan(x) else float(x)


def score(pred: np.ndarray, gt: np.ndarray) -> dict[str, object]:
    s, e, w = sod.Smeasure(), sod.Emeasure(), sod.WeightedFmeasure()
    for m in (s, e, w):
        m.step(pred, gt, normalize=False)
    curve = e.get_results()["em"]["curve"]
    return {
        "S": num(s.get_results()["sm"]),
        "E_adp": float(e.get_results()["em"]["adp"]),
        "E_mean": float(curve.mean()),
        "E_max": float(curve.max()),
        "E_curve_at": [float(curve[i]) for i in CURVE_AT],
        "wF": float(w.get_results()["wfm"]),
    }


def main() -> None:
    per_image = {}
    s, e, w = sod.Smeasure(), sod.Emeasure(), sod.WeightedFmeasure()
    for name, pred, gt in cases():
        per_image[name] = score(pred, gt)
        for m in (s, e, w):
            m.step(pred, gt, normalize=False)
    curve = e.get_results()["em"]["curve"]
    name, pred, gt = last_row_gt()
    payload = {
        "generator": f"pysodmetrics {version('pysodmetrics')}, numpy {np.__version__}",
        "curve_at": list(CURVE_AT),
        "per_image": per_image,
        "dataset": {
            "S": float(s.get_results()["sm"]),
            "E_adp": float(e.get_results()["em"]["adp"]),
            "E_curve": [float(x) for x in curve],
            "wF": float(w.get_results()["wfm"]),
        },
        name: score(pred, gt),
    }
    OUT.write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
    print(f"wrote {OUT} ({len(per_image)} images)")


if __name__ == "__main__":
    main()
