"""Turn a trained run into a shippable fp16 weights file, and print what its ``WeightsEntry`` needs.

    python -m dbdzoo.hub.release RUN_DIR/checkpoints/best.pt dbdzoo/weights/NAME.TAG.safetensors \
        --working-max-side 640

The file is written by the one writer (``writer.save_release``); the printed SHA-256, size, parameter
count and working scale go into a ``WeightsEntry(url=None, file=...)`` in ``released.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .download import sha256_of
from .load import load_model
from .writer import save_release


def release_file(
    source: str | Path, dest: str | Path, *, name: str | None = None, working_max_side: int | None = None
) -> dict[str, Any]:
    """Write ``dest`` (fp16) from any ``load_model`` reference; return its sha256, size, params and scale.

    ``working_max_side`` defaults to the source's own (when its file records one).
    """
    model = load_model(str(source))
    config = {**model.config, **({"name": name} if name else {})}
    side = working_max_side if working_max_side is not None else model.working_max_side
    dest = save_release(model, config, dest, precision="fp16", working_max_side=side)
    return {
        "file": dest.name,
        "sha256": sha256_of(dest),
        "size": dest.stat().st_size,
        "params": sum(p.numel() for p in model.parameters()),
        "config": config,
        "working_max_side": side,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dbdzoo.hub.release", description=__doc__.split("\n")[0])
    parser.add_argument("source", help="trained weights: run checkpoint, .safetensors or any load_model ref")
    parser.add_argument("dest", help="output .safetensors (fp16)")
    parser.add_argument("--name", help="registered model name to record (default: the source's)")
    parser.add_argument(
        "--working-max-side",
        type=int,
        default=None,
        help="long side (px) of the images it was trained at; predict shrinks larger images to it "
        "(default: the source's, else native size)",
    )
    args = parser.parse_args(argv)
    info = release_file(args.source, args.dest, name=args.name, working_max_side=args.working_max_side)
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
