"""``dbdzoo predict``: blur-probability PNGs (plus masks, overlays and σ maps) for images, folders or globs.

Images are read with EXIF orientation applied and converted to RGB whatever their mode (16-bit,
greyscale, palette, RGBA). Every input is decoded once before anything is written, so a bad file in a
folder stops the run with one line naming it and no partial results. Same-size images are batched;
``model.predict_tensor`` pads every batch to the network's stride and crops back, so any size works.
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from . import CLIError

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
    parser.add_argument("--batch-size", type=int, default=4)
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


def read_image(path: Path) -> np.ndarray:
    """float32 H×W×3 RGB in [0, 1] through ``dbdzoo.data.io`` (the readers' and eval's decoder, one EXIF
    policy); one clear error for unreadable files."""
    from PIL import UnidentifiedImageError

    from ..data.io import DataError, read_rgb_float

    try:
        arr = read_rgb_float(path)
    except DataError as exc:
        if isinstance(exc.__cause__, UnidentifiedImageError):
            raise CLIError(f"{path}: not an image (or a format Pillow cannot read)") from None
        raise CLIError(f"{path}: unreadable image ({exc.__cause__ or exc})") from None
    return np.clip(arr, 0.0, 1.0)


def _save_png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def overlay(image: np.ndarray, blur: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """uint8 RGB: the image tinted red where blurred, in proportion to the blur probability."""
    weight = alpha * blur[..., None]
    red = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    return (np.clip(image * (1 - weight) + red * weight, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_outputs(out: Path, stem: Path, image: np.ndarray, blur: np.ndarray, args, sigma=None) -> None:
    """``<stem>_blur.png`` and the optional mask, overlay and σ files."""
    base = out / stem
    _save_png((blur * 255 + 0.5).astype(np.uint8), base.with_name(base.name + "_blur.png"))
    if args.threshold is not None:
        _save_png(
            np.where(blur >= args.threshold, 255, 0).astype(np.uint8), base.with_name(base.name + "_mask.png")
        )
    if args.overlay:
        _save_png(overlay(image, blur), base.with_name(base.name + "_overlay.png"))
    if sigma is not None and args.sigma == "npy":
        np.save(base.with_name(base.name + "_sigma.npy"), sigma.astype(np.float32))
    elif sigma is not None:
        from ..data.io import write_sigma_png

        write_sigma_png(base.with_name(base.name + "_sigma.png"), sigma)


def _device(name: str):
    """``--device`` through the resolver ``train``/``eval`` use, its error as one line naming the flag."""
    from ..engine.dist import resolve_device

    try:
        return resolve_device(name, key="--device")
    except (ValueError, RuntimeError) as exc:
        raise CLIError(str(exc)) from None


def validate_inputs(items: list[tuple[Path, Path]]) -> dict[tuple[int, ...], list[tuple[Path, Path]]]:
    """Decode every input before any output is written; group them by decoded (EXIF-turned) shape.

    A bad file raises one ``CLIError`` naming it (and counting any others), so a folder with one corrupt
    image leaves no partial results behind. Images are decoded again when their batch runs, which keeps
    memory at one batch instead of the whole folder.
    """
    from tqdm import tqdm

    groups: dict[tuple[int, ...], list[tuple[Path, Path]]] = defaultdict(list)
    bad: list[CLIError] = []
    for src, stem in tqdm(items, unit="img", desc="read", disable=None, file=sys.stderr, leave=False):
        try:
            groups[read_image(src).shape].append((src, stem))
        except CLIError as exc:
            bad.append(exc)
    if bad:
        others = f"; {len(bad) - 1} more unreadable input(s), nothing written" if len(bad) > 1 else ""
        raise CLIError(f"{bad[0]}{others or '; nothing written'}")
    return groups


def run(args: argparse.Namespace) -> int:
    """Predict every input and write the maps; returns 0."""
    import contextlib

    import torch
    from tqdm import tqdm

    from ..hub import load_model

    if args.batch_size < 1:
        raise CLIError("--batch-size must be at least 1")
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise CLIError("--threshold must lie in [0, 1]")
    items = collect_inputs(args.inputs, args.recursive)
    device = _device(args.device)
    if args.model is None and args.weights is not None:
        raise CLIError("--weights needs --model (the registry name the weights belong to)")
    groups = validate_inputs(items)
    if args.model is None:
        from ..hub.released import BEST

        args.model = BEST
    model = load_model(args.model, weights=args.weights, device=device)
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
    # batches of equal-size images (sizes as decoded, EXIF applied), every input already validated
    args.out.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(items), unit="img", desc="predict", disable=None, file=sys.stderr)
    for group in groups.values():
        for start in range(0, len(group), args.batch_size):
            chunk = group[start : start + args.batch_size]
            images = [read_image(src) for src, _ in chunk]
            x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).to(device)
            with autocast:
                prob = model.predict_tensor(x).float()
            sigmas = model.sigma(prob).float()[:, 0].cpu().numpy() if want_sigma else [None] * len(chunk)
            maps = prob[:, 0].clamp(0, 1).cpu().numpy()
            for (_, stem), image, blur, sigma in zip(chunk, images, maps, sigmas, strict=True):
                write_outputs(args.out, stem, image, blur, args, sigma)
            bar.update(len(chunk))
    bar.close()
    print(
        f"dbdzoo predict: wrote maps for {len(items)} image(s) to {args.out} "
        f"(model {getattr(model, 'load_source', args.model)})",
        file=sys.stderr,
    )
    return 0
