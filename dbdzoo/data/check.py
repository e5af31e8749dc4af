"""Verify a downloaded benchmark copy: ``python -m dbdzoo.data.check ROOT --dataset cuhk [--split test]``.

Checks counts against the published numbers, pairing, decodability, ground-truth value ranges, image/GT
sizes and polarity (the mean blurred fraction), prints a summary table and exits with status 1 when
anything is wrong. Per-file doubts (all-background or all-blur ground truth, a ground truth whose blurred
region is sharper than its in-focus one) are warnings naming the file; ``--strict`` makes them fail too,
and they fail anyway when they concern most of the split (a wrong value range or polarity, not one file).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

import numpy as np

from ..key_values import parse_key_values
from .base import ReaderBase
from .factory import create_dataset
from .io import DataError, read_gray
from .sharpness import coverage_warning, polarity_warning

#: Published counts per (dataset, split[, subset]).
EXPECTED_COUNTS = {
    ("cuhk", "train"): 604,
    ("cuhk", "test"): 100,
    ("cuhk", "all"): 704,
    ("cuhk", "train", "btbnet_val80"): 524,  # CUHK-TR-1 minus its 80 validation images
    ("cuhk", "val", "btbnet_val80"): 80,
    ("dut", "train"): 600,
    ("dut", "test"): 500,
    ("dut", "all"): 1100,
    ("zhao320", "test", "xu100"): 100,
    ("zhao320", "test", "dut500"): 500,
    ("ctcug", "test"): 150,
    ("ebd", "test"): 1605,
    ("rtf", "test"): 22,
}
#: Plausible mean blurred fraction (canonical polarity); CUHK defocus images average 0.666 (docs/datasets.md).
EXPECTED_BLUR = {"cuhk": (0.5, 0.85), "zhao320/xu100": (0.5, 0.85)}


def check(
    root: str, dataset: str, split: str, options: dict[str, Any], limit: int | None = None
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Return (problems, warnings, summary) for one dataset split; every line names its file."""
    problems: list[str] = []
    warnings: list[str] = []
    ds = create_dataset(dataset, root, split=split, on_error="skip", **options)
    if not isinstance(ds, ReaderBase):
        raise DataError(f"check: {dataset!r} is not a file-based reader")
    problems += [f"unpaired: {name}" for name, why in ds.skipped.items() if why == "unpaired"]
    # zhao320 without --option subset=... reads its default subset, xu100; CUHK's counts follow its scheme
    key = (dataset, split, options.get("subset", "xu100")) if dataset == "zhao320" else (dataset, split)
    if dataset == "cuhk" and split != "test" and options.get("scheme", "btbnet") != "btbnet":
        key = (dataset, split, options["scheme"])
    expected = EXPECTED_COUNTS.get(key)
    if expected is not None and len(ds) != expected:
        problems.append(f"count: found {len(ds)} samples, the published {dataset}/{split} has {expected}")
    sizes: Counter = Counter()
    fractions, sigma_max, grey = [], 0.0, 0
    single = inverted = measured = 0
    for sample in ds.samples[:limit]:
        try:
            item = ds.load(sample)
        except DataError as exc:
            problems.append(str(exc).splitlines()[0])
            continue
        sizes[item["image"].shape[:2]] += 1
        if "mask" in item:
            fractions.append(float(item["mask"].mean()))
            where = sample.gt or sample.sigma or sample.image
            cover = coverage_warning(item["mask"])
            polarity = None if cover else polarity_warning(item["image"], item["mask"])
            warnings += [f"{where}: {w}" for w in (cover, polarity) if w]
            single += cover is not None
            inverted += polarity is not None
            measured += 1
        if "defocus" in item:
            sigma_max = max(sigma_max, float(item["defocus"].max()))
        if sample.gt is not None and "defocus" not in item:
            vals = np.unique(read_gray(sample.gt))
            grey += int(not set(vals.tolist()) <= {0, 255})
    if measured >= 2 and single * 2 > measured:
        problems.append(
            f"ground truth: {single} of {measured} masks are all-background or all-blur "
            "(a value range or folder mix-up, not a few odd files)"
        )
    if measured >= 2 and inverted * 2 > measured:
        problems.append(
            f"polarity: {inverted} of {measured} ground truths label the sharper region as blurred "
            "(wrong positive= or an inverted copy?)"
        )
    name = f"{dataset}/{options.get('subset', 'xu100')}" if dataset == "zhao320" else dataset
    lo_hi = EXPECTED_BLUR.get(name)
    mean_blur = float(np.mean(fractions)) if fractions else float("nan")
    if lo_hi and fractions and not lo_hi[0] <= mean_blur <= lo_hi[1]:
        # a handful of images (--limit) can average anywhere: only a real sample is a polarity verdict
        (problems if len(fractions) >= 20 else warnings).append(
            f"polarity: mean blurred fraction {mean_blur:.3f} outside the expected {lo_hi} "
            "(inverted ground truth?)"
        )
    summary = {
        "dataset": name,
        "split": split,
        "root": str(ds.root),
        "items": len(ds),
        "expected": expected if expected is not None else "-",
        "sizes": ", ".join(f"{h}x{w}:{n}" for (h, w), n in sizes.most_common(3)),
        "blur_mean": mean_blur,
        "blur_min": min(fractions, default=float("nan")),
        "blur_max": max(fractions, default=float("nan")),
        "grey_gt": grey,
        "sigma_max": sigma_max if sigma_max else "-",
        "excluded": getattr(ds, "excluded", {}),
        "problems": len(problems),
        "warnings": len(warnings),
    }
    return problems, warnings, summary


def default_splits(dataset: str, options: dict[str, Any]) -> list[str]:
    """The splits to check when ``--split`` is not given: those the reader *and its scheme* have.

    CUHK's default ``btbnet`` scheme has no ``val`` split (``btbnet_val80`` has one); checking it would
    fail a complete, correct copy.
    """
    from .base import DATASETS

    splits = [s for s in getattr(DATASETS.get(dataset), "splits", ("train",)) if s != "all"]
    if dataset == "cuhk":
        from .readers.cuhk import VAL_LISTS

        if options.get("scheme", "btbnet") not in VAL_LISTS:
            splits = [s for s in splits if s != "val"]
    return splits


def holds_no_test_images(root: str, dataset: str, options: dict[str, Any]) -> bool:
    """True when a CUHK copy holds none of the 100 BTBNet test images (a CUHK-TR-1 copy: legitimate)."""
    if dataset != "cuhk":
        return False
    from .readers.cuhk import SCHEMES
    from .splits import load_split_list

    try:
        ds = create_dataset(dataset, root, split="all", on_error="skip", **options)
    except DataError:
        return False
    names = {s.name for s in ds.samples}
    return not names & set(load_split_list(SCHEMES[options.get("scheme", "btbnet")]))


def _print_lines(kind: str, lines: list[str], show_all: bool) -> None:
    shown = lines if show_all else lines[:20]
    for line in shown:
        print(f"  [{kind}] {line}")
    if len(lines) > len(shown):
        print(f"  ... and {len(lines) - len(shown)} more {kind}s (--all lists every one)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dbdzoo.data.check", description=__doc__.splitlines()[0])
    ap.add_argument("root")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--split", default=None, help="default: every split the reader offers except 'all'")
    ap.add_argument("--option", action="append", default=[], help="reader option key=value (repeatable)")
    ap.add_argument("--limit", type=int, default=None, help="decode only the first N samples per split")
    ap.add_argument("--strict", action="store_true", help="warnings fail the check too (exit status 1)")
    ap.add_argument("--all", action="store_true", help="list every problem and warning (default: 20 each)")
    args = ap.parse_args(argv)
    try:
        options = parse_key_values(args.option, "--option")
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    splits = [args.split] if args.split else default_splits(args.dataset, options)
    if not args.split and "test" in splits and holds_no_test_images(args.root, args.dataset, options):
        splits.remove("test")
        print(
            f"[SKIP] {args.dataset}/test: none of the 100 BTBNet test images (CUHK-TE-1) is present: a "
            "CUHK-TR-1 copy, enough for the released weights and data=cuhk_val80 (--split test checks it)"
        )
    scheme = f", scheme={options.get('scheme', 'btbnet')}" if args.dataset == "cuhk" else ""
    print(f"checking {args.dataset} split(s): {', '.join(splits)}{scheme}")
    failed, warned = False, 0
    for split in splits:
        try:
            problems, warnings, summary = check(args.root, args.dataset, split, options, args.limit)
        except DataError as exc:
            print(f"[FAIL] {args.dataset}/{split}: {exc}")
            failed = True
            continue
        width = max(len(k) for k in summary)
        print(f"\n== {summary['dataset']} / {split} ==")
        for k, v in summary.items():
            print(f"  {k:<{width}}  {v:.3f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
        _print_lines("problem", problems, args.all)
        _print_lines("warning", warnings, args.all)
        failed |= bool(problems) or (args.strict and bool(warnings))
        warned += len(warnings)
    note = f" ({warned} warning(s){'' if args.strict else '; --strict fails on them'})" if warned else ""
    print(f"\nFAILED{note}" if failed else f"\nOK{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
