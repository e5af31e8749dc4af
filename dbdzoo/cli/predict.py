"""``dbdzoo predict``: blur-probability PNGs (plus masks, overlays and σ maps) for images, folders or globs.

Images are read with EXIF orientation applied and converted to RGB whatever their mode (16-bit,
greyscale, palette, RGBA). Every input is decoded once before anything is written, so a bad file in a
folder stops the run with one line naming it and no partial results. Photos larger than the scale the
weights were trained at (``--max-side``, default from the weights' metadata) run shrunk and their maps
are resized back (``dbdzoo.models.scale``); ``--native`` runs them as they are. Same-size inputs are
batched within a memory budget; maps are written atomically under a lock on ``--out`` (``predict_io``).
Without ``--threads`` or ``$OMP_NUM_THREADS`` the network gets the CPUs others leave idle (``idle_threads``).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from . import CLIError, available_cpus, key_values

HELP = "Predict blur maps (1 = out of focus) for images, folders or globs."
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm", ".gif"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dbdzoo predict``."""
    parser.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument(
        "--model",
        default=None,
        help="name[.tag], file, save_pretrained folder, URL or org/name "
        "(default: the best released weights, shipped with dbdzoo; see `dbdzoo list --pretrained`)",
    )
    parser.add_argument("--weights", default=None, help="weights tag or file for a registry name")
    parser.add_argument(
        "--model-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an argument for the model, value read as YAML (repeatable), "
        "e.g. --model lbp --model-option code=cpp",
    )
    parser.add_argument(
        "--out", default=Path("predictions"), type=Path, help="output folder (default: ./predictions)"
    )
    parser.add_argument("-r", "--recursive", action="store_true", help="search folders recursively")
    parser.add_argument(
        "--threshold", type=float, default=None, help="also write <stem>_mask.png at this value"
    )
    parser.add_argument("--overlay", action="store_true", help="also write <stem>_overlay.png")
    parser.add_argument(
        "--sigma", choices=("npy", "png16"), default=None, help="σ maps of defocus-map models"
    )
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument(
        "--max-side",
        type=int,
        default=None,
        metavar="N",
        help="run images whose long side exceeds N px shrunk to N, maps resized back "
        "(default: the scale the weights were trained at, 640 for the released ones)",
    )
    scale.add_argument(
        "--native", action="store_true", help="run every image at its own size (slow, memory-hungry)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=4,
        help="most images per batch (fewer when large: ~1 GB activations)",
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")


def collect_inputs(inputs: list[str], recursive: bool) -> list[tuple[Path, Path]]:
    """``(image path, output stem relative to --out)``; folders keep their sub-folder layout."""
    found: list[tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files = sorted(p for p in (path.rglob("*") if recursive else path.iterdir()) if p.is_file())
            images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
            if not images:
                hint = "" if recursive else " (use --recursive to search sub-folders)"
                raise CLIError(f"{path}: no images found ({', '.join(sorted(IMAGE_SUFFIXES))}){hint}")
            found += [(p, p.relative_to(path).with_suffix("")) for p in images]
        elif path.is_file():
            found.append((path, Path(path.stem)))
        elif glob.has_magic(item):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=recursive) if Path(p).is_file())
            images = [p for p in matches if p.suffix.lower() in IMAGE_SUFFIXES]
            if not images:
                raise CLIError(f"{item}: the pattern matches no images")
            found += [(p, Path(p.stem)) for p in images]
        else:
            raise CLIError(f"{item}: no such file or folder")
    by_stem: dict[Path, list[Path]] = defaultdict(list)
    for src, stem in found:
        by_stem[stem].append(src)
    # x.jpg and x.png would both write x_blur.png: keep the suffix in their names
    named = [
        (src, stem.with_name(f"{stem.name}_{src.suffix[1:]}") if len(by_stem[stem]) > 1 else stem)
        for src, stem in found
    ]
    # still equal (a/img.jpg and b/img.jpg given as files or globs): never overwrite one map with another
    sources: dict[Path, list[Path]] = defaultdict(list)
    for src, stem in named:
        sources[stem].append(src)
    clashes = {stem: srcs for stem, srcs in sources.items() if len(srcs) > 1}
    if clashes:
        stem, srcs = next(iter(clashes.items()))
        raise CLIError(
            f"{len(clashes)} output name(s) would be written twice, e.g. {stem}_blur.png from "
            f"{', '.join(map(str, srcs))}; pass their common parent folder (sub-folders are kept) instead"
        )
    return named


def idle_threads() -> int:
    """Threads for the network when neither ``--threads`` nor ``$OMP_NUM_THREADS`` says: the CPUs this
    process may use that others' work (the 1-minute load average, in this process's share of the machine)
    leaves idle, at least one.

    OpenMP threads spin-wait on each other: with two cores and one other busy process, two threads ran
    the network several times slower than one (docs/benchmarks.md, "Camera photos"), while on an idle
    machine two halve it.
    """
    cpus = available_cpus()
    try:
        load = os.getloadavg()[0] * cpus / max(cpus, os.cpu_count() or cpus)
    except OSError:  # no load average on this platform: trust the CPU count
        return cpus
    return max(1, cpus - int(load + 0.5))


#: ``dbdzoo`` sets the threads before ``run`` with this when neither ``--threads`` nor the variable says.
default_threads = idle_threads


def _device(name: str):
    """``--device`` through the resolver ``train``/``eval`` use, its error as one line naming the flag.

    The CPU needs no resolving: answered here, without importing the engine (a tenth of a second).
    """
    import torch

    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    from ..engine.dist import resolve_device

    try:
        return resolve_device(name, key="--device")
    except (ValueError, RuntimeError) as exc:
        raise CLIError(str(exc)) from None


#: Decoded inputs kept between validation and their batch while they fit (bytes); the rest decode twice.
CACHE_BYTES = 256 << 20


def validate_inputs(items: list[tuple[Path, Path]], max_side: int | None = None) -> tuple[dict, dict]:
    """Decode every input before any output is written; group them by the size the network sees.

    A bad file raises one ``CLIError`` naming it (and counting any others), so a folder with one corrupt
    image leaves no partial results behind. Returns ``{(h, w) at working scale: [(src, stem, full size)]}``
    and a cache of decoded arrays (up to ``CACHE_BYTES``; the others are decoded again in their batch).
    """
    from tqdm import tqdm

    from ..models.scale import working_size
    from .predict_io import decode

    groups: dict[tuple[int, int], list] = defaultdict(list)
    cache: dict[Path, np.ndarray] = {}
    cached, bad = 0, []
    for src, stem in tqdm(items, unit="img", desc="read", disable=None, file=sys.stderr, leave=False):
        try:
            arr, full = decode(src, max_side)
        except CLIError as exc:
            bad.append(exc)
            continue
        groups[working_size(*full, max_side)].append((src, stem, full))
        if cached + arr.nbytes <= CACHE_BYTES:
            cache[src], cached = arr, cached + arr.nbytes
    if bad:
        others = f"; {len(bad) - 1} more unreadable input(s), nothing written" if len(bad) > 1 else ""
        raise CLIError(f"{bad[0]}{others or '; nothing written'}")
    return groups, cache


def _max_side(args: argparse.Namespace, model) -> int | None:
    from ..models.scale import resolve_max_side

    if args.max_side is not None and args.max_side < 1:
        raise CLIError("--max-side must be at least 1 (or use --native)")
    if args.max_side is not None and model.task == "dme":
        raise CLIError(
            "--max-side: σ maps are in pixels of the input, so defocus-map models run at native size"
        )
    return resolve_max_side(model, None if args.native else args.max_side or "auto")


def run(args: argparse.Namespace) -> int:
    """Predict every input and write the maps; returns 0."""
    import atexit
    import contextlib
    import gc

    import torch
    from tqdm import tqdm

    # Interpreter exit garbage-collects everything torch created, 0.3-0.5 s of CPU for one photo's ~2.5 s;
    # frozen objects are skipped (refcounting still frees them; the process ends anyway). Once per process.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)

    from ..hub import load_model
    from ..models.scale import batch_limit, enlarge, shrink
    from ..progress import ProgressLog
    from .predict_io import OutputLock, decode, write_outputs

    if args.batch_size < 1:
        raise CLIError("--batch-size must be at least 1")
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise CLIError("--threshold must lie in [0, 1]")
    items = collect_inputs(args.inputs, args.recursive)
    device = _device(args.device)
    if args.model is None and args.weights is not None:
        raise CLIError("--weights needs --model (the registry name the weights belong to)")
    if args.model is None:
        from ..hub.released import BEST

        args.model = BEST
    model = load_model(
        args.model, weights=args.weights, device=device, **key_values(args.model_option, "--model-option")
    )
    max_side = _max_side(args, model)
    groups, cache = validate_inputs(items, max_side)
    want_sigma = args.sigma is not None and model.task == "dme"
    if args.sigma is not None and not want_sigma:
        print(f"dbdzoo predict: --sigma skipped: {args.model} is a blur detector (task=dbd)", file=sys.stderr)
    if args.amp and device.type != "cuda":
        print("dbdzoo predict: --amp applies on CUDA only; running in float32", file=sys.stderr)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if args.amp and device.type == "cuda"
        else contextlib.nullcontext()
    )
    bar = tqdm(total=len(items), unit="img", desc="predict", disable=None, file=sys.stderr)
    log = ProgressLog(len(items), "dbdzoo predict")
    with OutputLock(args.out):
        for size, group in groups.items():
            step = batch_limit(size[0] * size[1], args.batch_size)
            for start in range(0, len(group), step):
                chunk = group[start : start + step]
                arrays = [cache.pop(src, None) for src, _, _ in chunk]
                arrays = [
                    a if a is not None else decode(c[0], max_side)[0]
                    for a, c in zip(arrays, chunk, strict=True)
                ]
                x = torch.cat(
                    [shrink(torch.from_numpy(a).permute(2, 0, 1)[None].to(device), size) for a in arrays]
                )
                del arrays
                with autocast:
                    prob = model.predict_tensor(x).float()
                for (src, stem, full), p in zip(chunk, prob.split(1), strict=True):
                    p = p.clamp(0, 1)[0].cpu()
                    sigma = None
                    if want_sigma:  # σ is in pixels of the input: from the map at full size
                        sigma = model.sigma(enlarge(p[None], full)).float()[0, 0].numpy()
                    write_outputs(args.out, stem, src, p, full, args, sigma)
                bar.update(len(chunk))
                log.update(len(chunk))
    bar.close()
    log.close()
    at = "native size" if max_side is None else f"long side ≤ {max_side} px, maps at full size"
    print(
        f"dbdzoo predict: wrote maps for {len(items)} image(s) to {args.out} "
        f"(model {getattr(model, 'load_source', args.model)}; ran at {at})",
        file=sys.stderr,
    )
    return 0
