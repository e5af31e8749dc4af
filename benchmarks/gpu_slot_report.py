"""What a GPU slot brings back (``benchmarks/gpu_slot.py``): OUT rewritten from the phases' folders.

The device tool returns at most 8 files of 16 MiB each, so OUT holds ``summary.md`` (every phase's outcome
and tables), ``logs.tar.gz`` (every log and JSON, no checkpoints or weights), ``zoo.json`` and the fp16
weights small enough to travel. Each file is copied in under a temporary name and renamed, so a call cut off
mid-copy leaves the previous version whole.
"""

from __future__ import annotations

import contextlib
import shutil
import tarfile
from pathlib import Path

MAX_FILES, MAX_FILE_BYTES = 8, 16_000_000  # what the device tool brings back
MAX_WEIGHTS = MAX_FILES - 4  # beside summary.md, logs.tar.gz, zoo.json and one copy in flight


def publish(out: Path, work: Path, phases: list[dict], header: str) -> list[str]:
    """Rewrite OUT from what the phases left: summary.md, logs.tar.gz, zoo.json, the small weights."""
    from dbdzoo.files import atomic_write  # imported late: the slot's refusals run before dbdzoo is needed

    out.mkdir(parents=True, exist_ok=True)
    zoo = work / "zoo"
    weights = sorted((zoo / "weights").glob("*.safetensors")) if (zoo / "weights").is_dir() else []
    small = [w for w in weights if w.stat().st_size < MAX_FILE_BYTES][:MAX_WEIGHTS]
    left = [w.name for w in weights if w not in small]
    text = summary(work, phases, header, left)
    atomic_write(out / "summary.md", lambda tmp: tmp.write_text(text))
    with tarfile.open(work / "logs.tar.gz", "w:gz") as tar:
        for f in sorted(p for p in work.rglob("*") if p.is_file()):
            small_log = f.stat().st_size < MAX_FILE_BYTES // 4
            if small_log and f.suffix not in {".pt", ".safetensors"} and f.name != "logs.tar.gz":
                with contextlib.suppress(OSError):  # removed or rewritten meanwhile: the rest still ship
                    tar.add(f, arcname=str(f.relative_to(work)))
    files = [work / "logs.tar.gz", *([zoo / "zoo.json"] if (zoo / "zoo.json").is_file() else []), *small]
    for f in files:
        atomic_write(out / f.name, lambda tmp, f=f: shutil.copyfile(f, tmp))
    return sorted(p.name for p in out.iterdir())


def summary(work: Path, phases: list[dict], header: str, left_behind: list[str]) -> str:
    """Every phase's outcome, then the zoo's table, the classical results and the suite's summary."""
    lines = [
        f"# GPU slot: {header}",
        "",
        "| phase | for | exit | seconds | status |",
        "|---|---|---|---|---|",
    ]
    for p in phases:
        status = "skipped: " + p["skipped"] if p.get("skipped") else (
            "stopped at its limit" if p["timed_out"] else "ok" if p["exit"] == 0 else "failed")  # fmt: skip
        lines.append(
            f"| {p['name']} | {p['issue']} | {p.get('exit', '-')} | {p.get('seconds', '-')} | {status} |"
        )
    sections = [("Zoo training (issue 21)", work / "zoo" / "zoo.md", None),
                ("HiFST / LBP on CUDA, batch 16 (issue 24)", work / "suite" / "classical.log", 12),
                ("LBP with the host's LU (issue 24)", work / "suite" / "classical_lbp_direct.log", 6),
                ("CUDA = CPU tests (issue 24)", work / "suite" / "classical_cuda_tests.log", 3),
                ("Speed suite (issue 20)", work / "suite" / "summary.md", None)]  # fmt: skip
    for title, path, tail in sections:
        if path.is_file():
            text = path.read_text(errors="replace").rstrip().splitlines()
            lines += ["", f"## {title}", "", *(text[-tail:] if tail else text)]
    if (work / "suite" / "suite.json").is_file() and not (work / "suite" / "summary.md").is_file():
        lines += ["", "The speed suite was stopped before its summary: its rows so far are in logs.tar.gz "
                  "(suite/suite.json)."]  # fmt: skip
    if left_behind:
        lines += ["", "Weights over the transfer limit, left on the machine (SHA-256 in zoo.json): "
                  + ", ".join(left_behind)]  # fmt: skip
    return "\n".join(lines) + "\n"
