"""Turn a trained run into a shippable weights file: fp16 safetensors with the model config embedded.

    python -m dbdzoo.hub.release RUN_DIR/checkpoints/last.safetensors dbdzoo/weights/NAME.TAG.safetensors

fp16 halves the file (the package carries every released weight, 30 MB at most in all); BatchNorm counters
stay integers. Printing the SHA-256, size and parameter count gives what a ``WeightsEntry`` needs.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from .checkpoint import CONFIG_METADATA_KEY
from .download import sha256_of


def release_file(source: str | Path, dest: str | Path, *, name: str | None = None) -> dict[str, Any]:
    """Write ``dest`` (fp16) from any ``load_model`` reference; return its sha256, size and params."""
    from safetensors.torch import save_file

    from .load import load_model

    model = load_model(str(source))
    config = {**model.config, **({"name": name} if name else {})}
    state = {
        k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    save_file(state, str(tmp), metadata={CONFIG_METADATA_KEY: json.dumps(config)})
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o666 & ~umask)  # normal permissions for a file that is shipped and read by everyone
    tmp.replace(dest)  # atomic: a half-written release never sits under the final name
    return {
        "file": dest.name,
        "sha256": sha256_of(dest),
        "size": dest.stat().st_size,
        "params": sum(p.numel() for p in model.parameters()),
        "config": config,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dbdzoo.hub.release", description=__doc__.split("\n")[0])
    parser.add_argument("source", help="trained weights: run checkpoint, .safetensors or any load_model ref")
    parser.add_argument("dest", help="output .safetensors (fp16)")
    parser.add_argument("--name", help="registered model name to record (default: the source's)")
    args = parser.parse_args(argv)
    print(json.dumps(release_file(args.source, args.dest, name=args.name), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
