"""``dbdzoo list [PATTERN]`` and ``dbdzoo info REF``: what is registered, and what a reference holds."""

from __future__ import annotations

import argparse
import json

HELP = "List registered models and weights, or describe one model reference."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``list``: an optional fnmatch pattern; ``info``: a model reference (name[:tag], file, URL, repo)."""
    parser.add_argument("ref", nargs="?", default=None, help="list: name pattern; info: model reference")
    parser.add_argument("--model", dest="model", default=None, help="model reference (same as REF)")
    parser.add_argument("--weights", default=None, help="weights tag or file for a registry name")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    """Print the listing or the description; returns 0."""
    from ..hub import WEIGHTS, list_weights
    from ..models import MODELS, list_models

    if args.command == "list":
        names = list_models(args.ref or args.model or "*")
        rows = {n: sorted(WEIGHTS.get(n, {})) for n in names}
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for name in names:
                doc = (MODELS.get(name).__doc__ or "").strip().splitlines()
                tags = ", ".join(rows[name]) or "no released weights"
                print(f"{name:<20} {doc[0] if doc else ''}  [{tags}]")
        return 0
    ref = args.model or args.ref
    if ref is None:
        raise ValueError(
            "dbdzoo info needs a model reference: dbdzoo info <name[:tag] | file | folder | url | org/name>"
        )
    from ..hub import load_model
    from ..models import create_model

    if ref in list_models() and args.weights is None and not WEIGHTS.get(ref):
        model, source = create_model(ref), "untrained (no released weights)"
    else:
        model = load_model(ref, weights=args.weights)
        source = getattr(model, "load_source", ref)
    report = {
        "config": model.config,
        "class": type(model).__name__,
        "task": getattr(model, "task", "dbd"),
        "native_positive": getattr(model, "native_positive", "blur"),
        "norm_preset": model.normalize.preset,
        "input_multiple": model.input_multiple,
        "params": sum(p.numel() for p in model.parameters()),
        "source": source,
        "weights": list_weights(model.config.get("name")),
    }
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        for key, value in report.items():
            print(f"{key:<16} {value}")
    return 0
