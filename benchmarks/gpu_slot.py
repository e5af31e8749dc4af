"""A lent GPU slot in one device call: train the zoo, then the classical CUDA checks and the speed table.

    bash benchmarks/gpu_slot.sh "$OUT" 570                  # the device call: timeout_s 600,
                                                            # carry [".whl", ".gpu_data"]
    python benchmarks/gpu_slot.py /tmp/slot --budget-s 150 --smoke   # CPU rehearsal, tiny networks

Why one call: a task's device time is 15 minutes, a machine's start takes one to two of them, one command
may run 10, and a machine goes back 30 s after its call, with no new start under 4 minutes left. So every
open issue's GPU work runs in one command, in the order the project needs it:

1. ``train`` (issue 21): ``gpu_train_zoo.py`` with all the time but the suite's share (``--suite-s``), for
   fpn_resnet10t alone unless ``-- --models ...`` names others (a slot is too short for the paper networks
   as well: each wants its own);
2. ``suite`` (issues 24 and 20): ``gpu_suite.sh`` with what is left: HiFST/LBP at batch 16 on CUDA, LBP
   with the host's LU, their CUDA = CPU tests, then fp32 against bf16 + channels-last training per network
   (the FPNs, BR2Net and DMENet first: their goals are the open ones); compiling needs the whole suite.

Each phase runs in its own process group under a hard limit (SIGTERM, then SIGKILL); the zoo passes a
SIGTERM on to its running stage, which saves. One phase failing or overrunning costs only itself. OUT is
rewritten after every phase, so a call cut off by the tool's timeout still returns what came before, in
at most 8 files: ``summary.md`` (every phase's outcome and tables), ``logs.tar.gz`` (all logs and JSON),
``zoo.json`` and the fp16 weights under the tool's 16 MiB per file (fpn_resnet10t's).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_slot_report as report  # noqa: E402  (a sibling script module: OUT's files and summary)

#: the order a short suite measures networks in: the open speed goals first (docs/benchmarks.md)
SPEED_MODELS = (
    "fpn_resnet10t,fpn,fpn_resnet18,br2net,dmenet,cenet,defusionnet,defusionnet_tpami,btbnet,btbcrl"
)
#: what one slot trains unless told otherwise: issue 21's first network, with all of the training time
SLOT_MODELS = ("fpn_resnet10t",)
#: between SIGTERM and SIGKILL of an overrunning phase: a stage saves at its next step or after its validation
KILL_AFTER_S = {"train": 45.0, "suite": 15.0}
MIN_TRAIN_S = {"gpu": 120.0, "smoke": 30.0}
TRAIN_SLACK_S = 40.0  # the zoo's own clock ends it on budget; past this it is stopped (its stage saves)
SUITE_MIN_S = 20.0  # below this the suite is skipped, not started
SUITE_MARGIN_S = 40.0  # the suite's soft deadline comes this early: a model started before it may take ~35 s


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="the folder that comes back ($OUT on the device machine)")
    p.add_argument("--budget-s", type=float, default=570.0, help="seconds for everything (timeout_s less 30)")
    p.add_argument("--suite-s", type=float, default=None, help="seconds kept for the suite (170; smoke 60)")
    p.add_argument("--cuhk-dir", type=Path, default=REPO / ".gpu_data" / "cuhk")
    p.add_argument("--photos-dir", type=Path, default=REPO / ".gpu_data" / "photos")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new one in /tmp)")
    p.add_argument("--smoke", action="store_true", help="tiny networks on the CPU, the same phases")
    p.epilog = "Arguments after -- go to gpu_train_zoo.py (e.g. -- --models fpn_resnet10t cenet)."
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args = p.parse_args(argv[:cut])
    args.zoo_args = argv[cut + 1 :]
    args.suite_s = args.suite_s if args.suite_s is not None else 60.0 if args.smoke else 170.0
    return args


def refusal(args: argparse.Namespace, train_s: float) -> str | None:
    """Why the slot cannot start (one line), checked before any phase runs; None when it can."""
    for flag, folder in (("--cuhk-dir", args.cuhk_dir), ("--photos-dir", args.photos_dir)):
        if not folder.is_dir():
            return (f"{flag} {folder}: no such folder (prepare it with benchmarks/gpu_slot_data.py and carry "
                    f".gpu_data)")  # fmt: skip
    least = MIN_TRAIN_S["smoke" if args.smoke else "gpu"]
    if train_s < least:
        return (f"--budget-s {args.budget_s:g} leaves {train_s:.0f} s for training after the suite's "
                f"{args.suite_s:g} s; training needs at least {least:g} s")  # fmt: skip
    if not args.smoke and not cuda_available():
        return "no CUDA GPU here; --smoke rehearses the slot on the CPU"
    missing = [m for m in ("hydra", "omegaconf", "albumentations") if importlib.util.find_spec(m) is None]
    if missing:
        return (f"{', '.join(missing)} not importable: stage the wheels (bash ../shared/gpu/stage.sh), carry "
                f".whl and start through benchmarks/gpu_slot.sh")  # fmt: skip
    return None


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def train_command(args: argparse.Namespace, budget_s: float, work: Path) -> list[str]:
    cmd = [sys.executable, str(REPO / "benchmarks" / "gpu_train_zoo.py"), "--budget-s", f"{budget_s:.0f}",
           "--cuhk-dir", str(args.cuhk_dir), "--photos-dir", str(args.photos_dir), "--out", str(work / "zoo")]  # fmt: skip
    smoke = ["--smoke", "--synthetic-share", "0.5"] if args.smoke else []
    models = [] if "--models" in args.zoo_args else ["--models", *SLOT_MODELS]
    return [*cmd, *smoke, *models, *args.zoo_args]


def suite_command(args: argparse.Namespace, work: Path) -> list[str]:
    cmd = ["bash", str(REPO / "benchmarks" / "gpu_suite.sh"), str(work / "suite")]
    if args.smoke:
        return [*cmd, "--smoke", "--models", "fpn", "--device", "cpu", "--skip-train"]
    return [
        *cmd,
        "--skip-ops",
        "--skip-train",
        "--batches",
        "16",
        "--train-variants",
        "fp32,bf16_cl",
        "--models",
        SPEED_MODELS,
        "--compile-models",
        "",
    ]  # fmt: skip  (compiling needs ≥ 150 s: the whole suite's)


def suite_env(args: argparse.Namespace, budget_s: float) -> dict[str, str]:
    """The suite's share: no input-pipeline table (met on the H200 already), the classical checks bounded."""
    return {**os.environ, "SUITE_BUDGET_S": str(max(0, int(budget_s))), "PIPELINE_TIMEOUT_S": "0",
            "CLASSICAL_TIMEOUT_S": "45", "CLASSICAL_DIRECT_TIMEOUT_S": "25", "CLASSICAL_TESTS_TIMEOUT_S": "40",
            "CUHK_DIR": str(args.cuhk_dir), "PHOTOS_DIR": str(args.photos_dir)}  # fmt: skip


def run_phase(name: str, cmd: list[str], cap_s: float, log: Path, env: dict[str, str] | None = None) -> dict:
    """Run ``cmd`` in its own process group, its output to ``log`` and this console; stop it at ``cap_s``."""
    start = time.perf_counter()
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, text=True, errors="replace")  # fmt: skip
        copier = threading.Thread(target=_copy_lines, args=(proc.stdout, sink), daemon=True)
        copier.start()
        timed_out = False
        try:
            code = proc.wait(timeout=max(1.0, cap_s))
        except subprocess.TimeoutExpired:
            timed_out = True
            code = _stop(proc, name)
        copier.join(timeout=5)
    return {"exit": code, "seconds": round(time.perf_counter() - start, 1), "timed_out": timed_out}


def _copy_lines(stream, sink) -> None:
    for line in stream:
        sink.write(line)
        sink.flush()
        sys.stdout.write(line)
        sys.stdout.flush()


def _stop(proc: subprocess.Popen, phase: str) -> int:
    """SIGTERM, then SIGKILL after the phase's grace, to the phase and every process it started.

    The zoo alone gets the SIGTERM of the train phase: it passes it on to its stage, once (a second one
    would kill the stage unsaved). The suite's steps run under GNU ``timeout``, each in a process group of
    its own, so they are signalled one by one; SIGKILL reaches every descendant, so nothing left over keeps
    the GPU busy while the next phase measures.
    """
    family = _descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    for pid in family if phase != "train" else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=KILL_AFTER_S[phase])
    except subprocess.TimeoutExpired:
        family += _descendants(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait()
    finally:
        for pid in family + _descendants(proc.pid):  # orphans of an exited phase too
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (Linux /proc; empty elsewhere), whatever its group or session."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def gpu_name(smoke: bool) -> str:
    if smoke:
        return "cpu (smoke)"
    try:
        query = ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]
        return (
            subprocess.run(query, capture_output=True, text=True, timeout=20).stdout.strip() or "unknown GPU"
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown GPU"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # the clock starts where gpu_slot.sh started (the wheel install counts against the budget too)
    spent = max(0.0, time.time() - float(os.environ.get("GPU_SLOT_T0", time.time())))
    start = time.monotonic() - spent
    train_s = args.budget_s - args.suite_s - spent
    why = refusal(args, train_s)
    if why:
        print(f"gpu_slot: {why}", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="dbdzoo-slot-"))
    work.mkdir(parents=True, exist_ok=True)
    header = f"{gpu_name(args.smoke)}, budget {args.budget_s:g} s"
    phases: list[dict] = []

    train_s = args.budget_s - args.suite_s - (time.monotonic() - start)
    print(f"gpu_slot: training {train_s:.0f} s, then the suite ({args.suite_s:g} s)", flush=True)
    result = run_phase(
        "train", train_command(args, train_s, work), train_s + TRAIN_SLACK_S, work / "train.log"
    )
    phases.append({"name": "train", "issue": 21, **result})
    report.publish(args.out, work, phases, header)

    left = args.budget_s - (time.monotonic() - start)
    if left < SUITE_MIN_S:
        phases.append({"name": "suite", "issue": "24, 20", "skipped": f"{left:.0f} s left"})
    else:
        result = run_phase(
            "suite",
            suite_command(args, work),
            left,
            work / "suite.log",
            env=suite_env(args, left - SUITE_MARGIN_S),
        )
        phases.append({"name": "suite", "issue": "24, 20", **result})
    files = report.publish(args.out, work, phases, header)
    print(
        f"\ngpu_slot: {time.monotonic() - start:.0f} s of {args.budget_s:g}; {args.out}: {', '.join(files)}"
    )
    return 0 if all(p.get("exit") == 0 for p in phases) else 1


if __name__ == "__main__":
    sys.exit(main())
