"""Regenerate ``lbp_pipeline_reference.json``: the authors' whole ``demo.m`` pipeline, run in GNU Octave.

Yi & Eramian's MATLAB code (xinario/defocus_segmentation @ f02a026, README-only changes since; no licence, so it stays outside the
repository: pass the path of a checkout) runs unchanged in Octave ≥ 7 with its image package, through
``benchmarks/authors_code_octave.py`` (which builds UGM's mex files for Octave; see there). ::

    apt-get install octave octave-image liboctave-dev
    git clone https://github.com/xinario/defocus_segmentation ../defocus_segmentation
    .venv/bin/python tests/models/make_lbp_pipeline_reference.py ../defocus_segmentation

Inputs: ``lbp_cases.pipeline_cases()`` and, where ``../shared`` exists, ``PIPELINE_CUHK_IMAGES`` decoded by
PIL (both sides then see the same pixels; Octave gets them as PNG). Stored per image: its shape, ``demo.m``'s
``final_map`` (1 = sharp) at every ``stride``-th pixel of both axes, the whole map's mean, and the seconds
Octave took (timed around the demo's four calls, on the machine that ran this script).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from authors_code_octave import check_checkouts, check_tools, provenance, run_lbp_demo  # noqa: E402
from lbp_cases import PIPELINE_CUHK_IMAGES, pipeline_cases  # noqa: E402

OUT = Path(__file__).with_name("lbp_pipeline_reference.json")
CUHK = Path(__file__).resolve().parents[3] / "shared/data/cuhk-tr1/image"
STRIDES = {"synthetic": 4, "cuhk": 16}


def entry(final: np.ndarray, seconds: float, stride: int) -> dict:
    samples = final[::stride, ::stride]
    return {
        "shape": list(final.shape),
        "stride": stride,
        "samples": [[float(f"{v:.9g}") for v in row] for row in samples],
        "mean": float(final.mean()),
        "octave_seconds": round(seconds, 2),
    }


def main(authors: str) -> None:
    root = Path(authors).resolve()
    ref: dict = {
        "generator": f"demo.m pipeline of {provenance(root)}",
        "synthetic": {},
        "cuhk": {},
    }
    for name, (final, seconds) in run_lbp_demo(root, pipeline_cases()).items():
        ref["synthetic"][name] = entry(final, seconds, STRIDES["synthetic"])
    if all((CUHK / f"{name}.jpg").is_file() for name in PIPELINE_CUHK_IMAGES):
        photos = {
            name: np.asarray(Image.open(CUHK / f"{name}.jpg").convert("RGB")) for name in PIPELINE_CUHK_IMAGES
        }
        for name, (final, seconds) in run_lbp_demo(root, photos).items():
            ref["cuhk"][name] = entry(final, seconds, STRIDES["cuhk"])
    OUT.write_text(json.dumps(ref, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_lbp_pipeline_reference.py AUTHORS_CHECKOUT")
    check_checkouts(None, Path(sys.argv[1]), who="make_lbp_pipeline_reference")
    check_tools(lbp=True, who="make_lbp_pipeline_reference")
    main(sys.argv[1])
