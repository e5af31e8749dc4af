"""One-shot zoo training on a lent GPU: for each network, synthetic pretraining then CUHK-TR-1, in a budget.

Each stage is ``python train.py experiment=<recipe> trainer.time_budget_s=S`` in its own process group: the
loop probes its step time and sizes its schedule to end on time (``engine.loop.budget``), a crash or an
out-of-memory error costs that network only, and a stage that overruns gets SIGTERM (the loop saves and
stops) and then SIGKILL. What comes back is small: fp16 weights, ``zoo.json``, ``zoo.md`` and one
``logs.tar.gz``; checkpoints are deleted once released (``keep_checkpoints`` keeps them).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from .plan import STAGES, StagePlan, smoke_overrides, speed_overrides

#: seconds a stage may run past its budget before SIGTERM (the loop's own clock should end it first)
GRACE_S = 20.0
KILL_AFTER_S = 60.0
RESULT_KEYS = ("ddffnet/MAE", "ddffnet/F", "ddffnet/IoU", "ddffnet_iou/IoU", "br2net_maxf/F", "sg_cvpr21/F")


class _Stop:
    """A stop asked of the whole zoo, the stage running now, and the stages already sent SIGTERM."""

    requested = False
    running: subprocess.Popen | None = None
    terminated: set[int] = set()


def _terminate(proc: subprocess.Popen) -> None:
    """SIGTERM to a stage's group, once: the loop takes a second signal as "die now", unsaved."""
    if proc.pid in _Stop.terminated:
        return
    _Stop.terminated.add(proc.pid)
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.killpg(proc.pid, signal.SIGTERM)


def request_stop(signum: int | None = None, frame: object = None) -> None:
    """Signal handler: the running stage gets SIGTERM (its loop saves ``last.pt`` at its step and is
    released as usual) and no further stage starts, so a slot's deadline still leaves weights and a report.

    Stages run in their own process groups (so one network's crash stays its own), which also keeps a
    signal sent to the zoo's group from reaching them: without this they would train on, orphaned. A
    second Ctrl-C, when nothing is running, interrupts the zoo itself (a hung measured step).
    """
    if signum == signal.SIGINT and _Stop.requested and _Stop.running is None:
        raise KeyboardInterrupt
    _Stop.requested = True
    proc = _Stop.running
    if proc is not None and proc.poll() is None:
        _terminate(proc)


def stop_on_signals() -> None:
    """SIGTERM and SIGINT to the zoo (``timeout``, a slot's deadline, Ctrl-C) go through ``request_stop``."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)


def run_stage(
    plan: StagePlan, *, repo: Path, out: Path, common: list[str], startup_s: float, init_from: Path | None
) -> dict[str, Any]:
    """Train one stage in its own process group; returns its record (status, numbers, release)."""
    run_dir = out / "runs" / plan.model / plan.stage
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    train_s = max(1.0, plan.budget_s - startup_s)
    cmd = [sys.executable, str(repo / "train.py"), f"experiment={plan.experiment}", f"hydra.run.dir={run_dir}",
           f"trainer.time_budget_s={train_s:.1f}", "trainer.stop_after=null", "logger.tensorboard=false",
           "logger.progress_bar=false", *common, *plan.overrides]  # fmt: skip
    if init_from is not None:
        cmd.append(f"trainer.init_from={init_from}")
    record: dict[str, Any] = {"model": plan.model, "stage": plan.stage, "experiment": plan.experiment,
                              "budget_s": round(plan.budget_s, 1), "command": " ".join(cmd[1:])}  # fmt: skip
    start = time.perf_counter()
    with open(out / "runs" / plan.model / f"{plan.stage}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=repo, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _Stop.running = proc
        if _Stop.requested:  # the signal came while it was starting
            request_stop()
        try:
            record["exit"] = _wait(proc, plan.budget_s + GRACE_S)
        finally:
            _Stop.running = None
    record["process_s"] = round(time.perf_counter() - start, 1)
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").is_file() else {}
    record.update(
        {k: run.get(k) for k in ("step", "max_steps", "wall_s", "images_per_s_median", "peak_mem_mb")}
    )
    record["val"] = {k: run["results"][k] for k in RESULT_KEYS if k in (run.get("results") or {})}
    record["error"] = (
        None if record["exit"] == 0 else _error_line(out / "runs" / plan.model / f"{plan.stage}.log")
    )
    return record


def _wait(proc: subprocess.Popen, timeout_s: float) -> int:
    """The exit code; past ``timeout_s`` SIGTERM to the group (the loop saves), then SIGKILL."""
    try:
        return proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _terminate(proc)
        try:
            return proc.wait(timeout=KILL_AFTER_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait()


def _error_line(log: Path) -> str:
    lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
    lines = [x for x in lines if not x.startswith("Set the environment variable HYDRA_FULL_ERROR")] or [
        "(no output)"
    ]
    return next((x for x in reversed(lines) if x.startswith("train: ")), lines[-1])[:300]


def release(record: dict[str, Any], out: Path, *, keep_checkpoints: bool) -> Path | None:
    """fp16 weights of a finished stage: ``best.pt`` for the CUHK stage (selected on val80), else ``last.pt``."""
    from ..hub.release import release_file

    ckpts = out / "runs" / record["model"] / record["stage"] / "checkpoints"
    source = (
        ckpts / "best.pt"
        if record["stage"] == "cuhk" and (ckpts / "best.pt").is_file()
        else ckpts / "last.pt"
    )
    if not source.is_file():
        return None
    dest = out / "weights" / f"{record['model']}.{record['stage']}.safetensors"
    dest.parent.mkdir(parents=True, exist_ok=True)
    info = release_file(source, dest)
    record["release"] = {"file": str(dest.relative_to(out)), "source": source.name, **{
        k: info[k] for k in ("sha256", "size", "params")}}  # fmt: skip
    if not keep_checkpoints:
        shutil.rmtree(ckpts)
    return dest


def train_zoo(
    plans: list[StagePlan], *, repo: Path, out: Path, common: list[str], startup_s: float, smoke: bool,
    keep_checkpoints: bool = False, synthetic_render: str = "device", say=print,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every planned stage in order; a failed synthetic stage skips that network's CUHK stage only."""
    records, weights = [], {}
    for i, plan in enumerate(plans):
        if _Stop.requested:
            records.append(
                {"model": plan.model, "stage": plan.stage, "error": "skipped: the zoo was stopped"}
            )
            say(f"[{i + 1}/{len(plans)}] {plan.model} {plan.stage}: skipped (stopped by a signal)")
            continue
        init = weights.get(plan.model) if plan.stage == "cuhk" else None
        if plan.stage == "cuhk" and init is None:
            records.append(
                {"model": plan.model, "stage": plan.stage, "error": "skipped: the synthetic stage failed"}
            )
            say(f"[{i + 1}/{len(plans)}] {plan.model} {plan.stage}: skipped (no synthetic weights)")
            continue
        say(f"[{i + 1}/{len(plans)}] {plan.model} {plan.stage}: {plan.experiment}, {plan.budget_s:.0f} s")
        overrides = speed_overrides(plan.model, plan.stage, synthetic_render)
        overrides += smoke_overrides(plan.model, plan.stage) if smoke else []
        staged = StagePlan(
            plan.model, plan.stage, plan.experiment, plan.budget_s, [*overrides, *plan.overrides]
        )
        try:
            record = run_stage(staged, repo=repo, out=out, common=common, startup_s=startup_s, init_from=init)
            if record["exit"] in (0, 130, 143):  # a stage stopped by a signal saved last.pt at its step
                weights[plan.model] = release(record, out, keep_checkpoints=keep_checkpoints)
        except Exception as exc:  # one broken network must not stop the others
            record = {"model": plan.model, "stage": plan.stage, "error": f"{type(exc).__name__}: {exc}"[:300]}
        if record.get("wall_s") and record.get("process_s"):  # re-measure the start-up for later stages
            startup_s = max(startup_s, record["process_s"] - record["wall_s"] + 5.0)
        records.append(record)
        say(f"    -> {summary_line(record)}")
    return records


def summary_line(r: dict[str, Any]) -> str:
    if r.get("error") and not r.get("step"):
        return f"failed: {r['error']}"
    val = r.get("val") or {}
    return (f"{r.get('step')}/{r.get('max_steps')} steps in {r.get('process_s')} s, "
            f"{_num(r.get('images_per_s_median'))} img/s, val80 MAE {_num(val.get('ddffnet/MAE'), 3)}")  # fmt: skip


def _num(x: Any, nd: int = 1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def table(records: list[dict[str, Any]]) -> str:
    """The closing table: one row per stage."""
    head = "| model | stage | steps | process s | img/s | peak MB | val80 MAE / F / IoU (ddffnet) | status |"
    rows = [head, "|" + "---|" * 8]
    for r in records:
        v = r.get("val") or {}
        scores = " / ".join(_num(v.get(f"ddffnet/{k}"), 3) for k in ("MAE", "F", "IoU"))
        error = r.get("error") or ""
        kind = "" if error.startswith("skipped") else "stopped: " if r.get("step") else "failed: "
        status = kind + error[:80] if error else "ok"
        rows.append(f"| {r['model']} | {r['stage']} | {r.get('step', '-')}/{r.get('max_steps', '-')} | "
                    f"{_num(r.get('process_s'))} | {_num(r.get('images_per_s_median'))} | "
                    f"{_num(r.get('peak_mem_mb'), 0)} | {scores} | {status.replace('|', '/')} |")  # fmt: skip
    return "\n".join(rows)


def bundle_logs(out: Path) -> Path:
    """Every stage's log, run record and metric rows in one archive (no checkpoints, no weights)."""
    path = out / "logs.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for f in sorted((out / "runs").rglob("*")):
            if f.is_file() and (f.suffix in {".log", ".jsonl", ".json", ".yaml"}):
                tar.add(f, arcname=str(f.relative_to(out)))
    return path


__all__ = [
    "STAGES", "bundle_logs", "release", "request_stop", "run_stage", "stop_on_signals", "table",
    "train_zoo",
]  # fmt: skip
