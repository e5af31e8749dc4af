"""Fit this checkout into the device tool's 64 MiB: measure what would travel, park the package's weights.

    python benchmarks/gpu_slot_tree.py size --carry .whl .gpu_data   # MiB that would travel; exit 1 above 64
    python benchmarks/gpu_slot_tree.py park                          # the packaged weights stay behind
    python benchmarks/gpu_slot_tree.py restore                       # ... and are tracked again

The device tool sends tracked files, untracked files git does not ignore, and the carried paths. A zoo run
trains from scratch and never reads ``dbdzoo/weights/`` (21 MB of the 64), so ``park`` takes those files out
of the index and ignores them (``.git/info/exclude``) for the slot; the files stay on disk, untouched.
``restore`` puts them back in the index from HEAD. Park only for the device call and restore right after:
committing while parked would record the weights as deleted, so ``size`` and ``restore`` say when they are.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

LIMIT_MIB = 64
WEIGHTS = "dbdzoo/weights"
EXCLUDE_LINE = f"/{WEIGHTS}/*.safetensors"


def git(*args: str, root: Path) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def exclude_file(root: Path) -> Path:
    return root / git("rev-parse", "--git-path", "info/exclude", root=root).strip()


def parked(root: Path) -> bool:
    path = exclude_file(root)
    return path.is_file() and EXCLUDE_LINE in path.read_text().splitlines()


def travelling_bytes(root: Path, carry: list[str]) -> dict[str, int]:
    """Bytes per part: the git-visible tree and each carried path (which the tool adds even if ignored)."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", root=root).split("\0")
    files = [root / name for name in listed if name]
    sizes = {"tree": sum(f.stat().st_size for f in files if f.is_file())}
    for name in carry:
        path = root / name
        if not path.exists():
            raise SystemExit(f"gpu_slot_tree: carry path {name!r} does not exist in {root}")
        parts = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
        sizes[name] = sum(f.stat().st_size for f in parts)
    return sizes


def size(root: Path, carry: list[str]) -> int:
    sizes = travelling_bytes(root, carry)
    total = sum(sizes.values())
    for name, n in sizes.items():
        print(f"{name:>12}: {n / 2**20:6.1f} MiB")
    state = "parked" if parked(root) else "in the tree"
    print(f"{'total':>12}: {total / 2**20:6.1f} MiB of {LIMIT_MIB} (package weights {state})")
    if total > LIMIT_MIB * 2**20:
        hint = "" if parked(root) else "; `gpu_slot_tree.py park` leaves the package weights behind"
        print(f"gpu_slot_tree: over the device tool's {LIMIT_MIB} MiB{hint}", file=sys.stderr)
        return 1
    return 0


def park(root: Path) -> int:
    tracked = [
        n for n in git("ls-files", "-z", "--", WEIGHTS, root=root).split("\0") if n.endswith(".safetensors")
    ]
    if tracked:
        git("rm", "--cached", "-q", "--", *tracked, root=root)
    path = exclude_file(root)
    text = path.read_text() if path.is_file() else ""
    if EXCLUDE_LINE not in text.splitlines():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + ("" if text.endswith("\n") or not text else "\n") + EXCLUDE_LINE + "\n")
    print(
        f"parked {len(tracked)} weight files (on disk, untracked and ignored); run `restore` after the slot"
    )
    return 0


def restore(root: Path) -> int:
    git("reset", "-q", "--", WEIGHTS, root=root)
    path = exclude_file(root)
    if path.is_file():
        lines = [line for line in path.read_text().splitlines() if line != EXCLUDE_LINE]
        path.write_text("".join(f"{line}\n" for line in lines))
    left = git("status", "--porcelain", "--", WEIGHTS, root=root).strip()
    if left:
        print(f"gpu_slot_tree: {WEIGHTS} differs from HEAD after restore:\n{left}", file=sys.stderr)
        return 1
    print(f"restored: {WEIGHTS} is tracked again and matches HEAD")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("size", help="MiB that a device call would send")
    s.add_argument("--carry", nargs="*", default=[], help="the paths named in the device call's carry")
    sub.add_parser("park", help="leave the package's weights behind (untrack and ignore them)")
    sub.add_parser("restore", help="track the package's weights again")
    args = p.parse_args(argv)
    root = Path(git("rev-parse", "--show-toplevel", root=Path.cwd()).strip())
    if args.command == "size":
        return size(root, args.carry)
    return park(root) if args.command == "park" else restore(root)


if __name__ == "__main__":
    raise SystemExit(main())
