"""Pack CUHK-TR-1 and the renderer's photographs small enough to travel to a lent GPU (64 MiB in all).

    python benchmarks/gpu_slot_data.py --cuhk ../shared/data/cuhk-tr1 --photos ../shared/data/photos --out .gpu_data

Re-encodes the CUHK images as JPEG (quality 85, as for the shipped weights' run; Huffman tables optimised,
which changes no pixel) and the photographs at quality 92 with their long side capped; binary masks become
1-bit PNGs (the same values through dbdzoo's reader, a third of the bytes), others are copied as they are.
Then prints the sizes; ``benchmarks/gpu_slot_tree.py size`` says whether the whole tree fits the device tool. ``--out`` is
added to ``.git/info/exclude`` so git never tracks the data; name it in the device tool's ``carry``. Record
the qualities next to any number trained on these copies: the model cards do.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from dbdzoo.data.io import read_gray

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


def reencode(src: Path, dest: Path, quality: int, max_side: int | None) -> None:
    with Image.open(src) as im:
        im = im.convert("RGB")
        if max_side and max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        im.save(dest.with_suffix(".jpg"), quality=quality, optimize=True)


def pack_mask(src: Path, dest: Path) -> None:
    """A 0/255 mask as a 1-bit PNG (read back as the same uint8 map); any other mask as it is."""
    values = read_gray(src)
    if src.suffix.lower() == ".png" and np.isin(values, (0, 255)).all():
        Image.fromarray(values > 127).save(dest.with_suffix(".png"), optimize=True)
    else:
        shutil.copy2(src, dest)


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cuhk", type=Path, required=True, help="CUHK folder with image/ and gt/")
    p.add_argument("--photos", type=Path, required=True, help="sharp photographs")
    p.add_argument("--out", type=Path, default=Path(".gpu_data"))
    p.add_argument("--cuhk-quality", type=int, default=85)
    p.add_argument("--photo-quality", type=int, default=92)
    p.add_argument("--photo-max-side", type=int, default=1600)
    args = p.parse_args()
    for flag, folder in (("--cuhk", args.cuhk / "image"), ("--photos", args.photos)):
        if not folder.is_dir():
            raise SystemExit(f"gpu_slot_data: {flag}: {folder} is not a folder")
    cuhk, photos = args.out / "cuhk", args.out / "photos"
    for d in (cuhk / "image", cuhk / "gt", photos):
        d.mkdir(parents=True, exist_ok=True)
    for f in sorted((args.cuhk / "image").iterdir()):
        if f.suffix.lower() in IMAGE_SUFFIXES:
            reencode(f, cuhk / "image" / f.name, args.cuhk_quality, None)
    for f in sorted((args.cuhk / "gt").iterdir()):
        pack_mask(f, cuhk / "gt" / f.name)
    for f in sorted(args.photos.iterdir()):
        if f.suffix.lower() in IMAGE_SUFFIXES:
            reencode(f, photos / f.name, args.photo_quality, args.photo_max_side)
    root = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True
    ).stdout.strip()
    if root:
        exclude = Path(root) / ".git" / "info" / "exclude"
        entry = f"/{args.out.resolve().relative_to(Path(root).resolve())}/"
        if entry not in exclude.read_text().splitlines():
            exclude.write_text(exclude.read_text() + entry + "\n")
    print(f"{cuhk}: {folder_mb(cuhk):.1f} MiB, {photos}: {folder_mb(photos):.1f} MiB")


if __name__ == "__main__":
    main()
