"""``dbdzoo convert --model br2net SRC --out DIR``: authors' checkpoints → a ``save_pretrained`` folder.

The converter (``dbdzoo.converters``) maps the released file to our state dict and config; this command
builds the architecture offline, loads the result strictly, writes the folder and reloads it as a check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import CLIError

HELP = "Convert an author-released checkpoint (BR2Net .pth, DMENet .npz) to a dbdzoo folder."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dbdzoo convert``."""
    parser.add_argument("src", type=Path, help="the released checkpoint file")
    parser.add_argument("--model", required=True, help="converter name (br2net, dmenet, ...)")
    parser.add_argument("--out", required=True, type=Path, help="output folder (save_pretrained layout)")


def run(args: argparse.Namespace) -> int:
    """Convert, save, reload and compare; returns 0."""
    import torch

    from ..converters import get_converter
    from ..hub import load_model, save_pretrained
    from ..hub.rebuild import load_state_strict, model_from_config

    if not args.src.is_file():
        raise CLIError(f"{args.src}: no such file")
    converted = get_converter(args.model)(args.src)
    config = {"name": converted.model, **converted.config}
    model = model_from_config(config)
    load_state_strict(model, converted.state_dict, f"converted {args.src}")
    notes = [f"converted from {args.src.name} with `dbdzoo convert --model {args.model}`", *converted.notes]
    save_pretrained(model, args.out, notes=notes)
    reloaded = load_model(args.out)
    before, after = model.state_dict(), reloaded.state_dict()
    if set(before) != set(after) or not all(torch.equal(before[k], after[k]) for k in before):
        raise CLIError(f"{args.out}: the saved folder does not reload to the converted weights")
    for note in converted.notes:
        print(f"dbdzoo convert: note: {note}", file=sys.stderr)
    print(
        f"dbdzoo convert: wrote {args.out} (load with dbdzoo.load_model({str(args.out)!r}))", file=sys.stderr
    )
    return 0
