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
    parser.add_argument(
        "--pretrained", action="store_true", help="list: the released weights (name.tag) instead"
    )


def run(args: argparse.Namespace) -> int:
    """Print the listing or the description; returns 0."""
    from ..hub import WEIGHTS, list_weights
    from ..models import MODELS
    from ..zoo import list_models

    if args.command == "list":
        pattern = args.ref or args.model or "*"
        if not any(ch in pattern for ch in "*?["):
            pattern = f"*{pattern}*"  # a plain word matches as a substring: `dbdzoo list defusion`
        if args.pretrained:
            return _list_pretrained(pattern, args.json)
        names = list_models(pattern)
        rows = {n: sorted(WEIGHTS.get(n, {})) for n in names}
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for name in names:
                tags = ", ".join(rows[name]) or "no released weights"
                print(f"{name:<20} {first_sentence(MODELS.get(name).__doc__)}  [{tags}]")
        return 0
    ref = args.model or args.ref
    if ref is None:
        raise ValueError(
            "dbdzoo info needs a model reference: dbdzoo info <name[:tag] | file | folder | url | org/name>"
        )
    from ..hub import load_model
    from ..models import build_model, is_trainable, split_model_name

    name, tag = split_model_name(ref)
    if ref in MODELS and args.weights is None and not WEIGHTS.get(ref):
        untrained = (
            "classical method, no weights" if not is_trainable(ref) else "untrained (no released weights)"
        )
        model, source = build_model(ref), untrained
    else:
        model = load_model(ref, weights=args.weights)
        source = getattr(model, "load_source", ref)
    entry = None
    if name in WEIGHTS and (tag or args.weights or "default") in WEIGHTS[name]:
        entry = WEIGHTS[name][tag or args.weights or "default"]
    report = {
        "config": model.config,
        "class": type(model).__name__,
        "task": getattr(model, "task", "dbd"),
        "native_positive": getattr(model, "native_positive", "blur"),
        "norm_preset": model.normalize.preset,
        "input_multiple": model.input_multiple,
        "params": sum(p.numel() for p in model.parameters()),
        "source": source,
        "working_max_side": getattr(model, "working_max_side", None),
        "options": model_options(type(model)),
        "weights": list_weights(model.config.get("name")),
    }
    if entry is not None:
        report.update({"file": entry.source, "sha256": entry.sha256, "size": entry.size, **dict(entry.meta)})
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        for key, value in report.items():
            print(f"{key:<16} {value}")
    return 0


def _list_pretrained(pattern: str, as_json: bool) -> int:
    """``dbdzoo list --pretrained``: one line per released ``name.tag`` with its headline val metrics."""
    from ..hub import WEIGHTS
    from ..models import split_model_name
    from ..zoo import list_models

    names = list_models(pattern, pretrained=True)
    rows = {}
    for ref in names:
        model, tag = split_model_name(ref)
        entry = WEIGHTS[model][tag]
        rows[ref] = {
            "size": entry.size,
            "params": entry.meta.get("params"),
            "dataset": entry.meta.get("dataset"),
        }
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    for ref, row in rows.items():
        mb = f"{row['size'] / 1e6:.1f} MB" if row["size"] else "?"
        print(f"{ref:<28} {mb:>8}  {row['dataset']}")
    return 0


def model_options(cls: type) -> dict[str, object]:
    """The arguments a model class takes and their defaults (what ``--model-option`` and
    ``model_options`` set); a required one shows as ``"required"``."""
    import inspect

    from ..registry import option_defaults

    found = option_defaults(cls) or {}
    return {k: "required" if v is inspect.Parameter.empty else v for k, v in found.items()}


def first_sentence(doc: str | None) -> str:
    """The docstring's summary: its first paragraph joined into one line, up to the first full stop."""
    paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]
