"""Regenerate ``lbp_reference.json``: the authors' ``lbpSharpness`` (Python) on the oracle images.

Runs Yi & Eramian's own ``lbpSharpness.py`` (xinario/defocus_segmentation @ f02a026; no licence, so it
stays outside the repository: pass the path of a checkout). It needs numpy and opencv only::

    git clone https://github.com/xinario/defocus_segmentation ../defocus_segmentation
    .venv/bin/python tests/models/make_lbp_reference.py ../defocus_segmentation/lbpSharpness.py

Maps are stored as integer window counts (map · s², exact); the synthetic images come from
``lbp_cases.py``, the CUHK one (if ``../shared`` exists) by its name, stored as a digest and sums.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from lbp_cases import CUHK_IMAGE, SCALES, THRESHOLD, synthetic_cases  # noqa: E402

OUT = Path(__file__).with_name("lbp_reference.json")


def load_authors(path: str):
    """The authors' module namespace (its argparse runs at import, so give it an ``--input``)."""
    argv, sys.argv = sys.argv, ["lbpSharpness.py", "--input", "unused"]
    try:
        namespace: dict = {"__name__": "lbp_authors"}
        exec(compile(Path(path).read_text(), path, "exec"), namespace)
    finally:
        sys.argv = argv
    return namespace["lbpSharpness"]


def counts(fn, bgr: np.ndarray, s: int) -> np.ndarray:
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return np.rint(fn(grey, s, THRESHOLD) * s * s).astype(np.int64)


def main(path: str) -> None:
    fn = load_authors(path)
    ref: dict = {"generator": f"xinario/defocus_segmentation lbpSharpness.py, opencv {cv2.__version__}",
                 "threshold": THRESHOLD, "scales": list(SCALES), "synthetic": {}}  # fmt: skip
    for name, rgb in synthetic_cases().items():
        ref["synthetic"][name] = {str(s): counts(fn, rgb[..., ::-1].copy(), s).tolist() for s in SCALES}
    cuhk = Path(__file__).resolve().parents[3] / "shared/data/cuhk-tr1/image" / f"{CUHK_IMAGE}.jpg"
    if cuhk.is_file():
        bgr = cv2.imread(str(cuhk), cv2.IMREAD_COLOR)
        ref["cuhk"] = {"name": CUHK_IMAGE, "shape": list(bgr.shape[:2])}
        for s in SCALES:
            c = counts(fn, bgr, s)
            ref["cuhk"][str(s)] = {"sum": int(c.sum()), "sha256": hashlib.sha256(c.tobytes()).hexdigest()}
    OUT.write_text(json.dumps(ref, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
