"""The training loop, read top to bottom: set up, resume, step, log, validate, save (nanoGPT in spirit).

Everything model-specific lives in the objective (``objective(model, batch) -> {"loss", ...}``, with
an optional adversary); this file only knows devices, precision, DDP, schedules, validation and
checkpoints. The parts are built in ``assemble``, one optimiser step is ``step.train_step``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from .. import dist
from ..checkpoint import load_checkpoint, set_rng_state
from ..config.checks import check_component_options, check_data_roots
from ..config.schema import check_train_config
from ..logger import MetricLogger, progress_enabled, summary_table
from ..pipeline_options import train_specs
from ..provenance import data_roots, file_sha256, write_run_record
from ..run_folder import RunFolderLock, refuse_finished_run, remove_stale_temporaries
from ..runtime import (
    configure_determinism,
    current_experiment,
    finished_auto_resume,
    resolve_resume,
    seed_everything,
)
from .assemble import assemble, batches_from, wrap_for_training
from .budget import BudgetClock, budget_of, now, resize_schedules
from .interrupts import StopOnSignal, TrainingInterrupted
from .saving import progress, save_checkpoint, save_release, weights_of_best
from .state import Run
from .step import StepLog, new_step_log, train_step
from .validate import AllBlur, validate


def train(cfg: DictConfig | dict) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg.data``; returns the final validation metrics."""
    started = now()  # trainer.time_budget_s counts from here
    # -- set-up: checks before anything is built, one live run per folder -------------------------------------
    config = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    tr = config["trainer"]
    check_train_config(config)
    check_component_options(config)
    check_data_roots(config["data"])
    configure_determinism(tr["deterministic"])
    ctx = dist.setup(tr["device"], tr["devices"])
    run_dir = Path(config["paths"]["output_dir"])
    ckpt_dir = run_dir / "checkpoints"
    if (done := finished_auto_resume(config, run_dir)) is not None:  # nothing to continue: no new run folder
        if ctx.is_main and done.parent.parent != run_dir and not ckpt_dir.exists():
            shutil.rmtree(run_dir, ignore_errors=True)  # the folder Hydra made for this invocation
        print(f"resume=auto: {done} already reached trainer.max_steps={tr['max_steps']}; nothing to train "
              "(raise trainer.max_steps to continue it)")  # fmt: skip
        return {}
    refuse_finished_run(run_dir, config)  # every rank: needs resume= or overwrite=true over old checkpoints
    lock = RunFolderLock(run_dir).acquire() if ctx.is_main else None
    try:
        if ctx.is_main:
            for stale in remove_stale_temporaries(ckpt_dir):
                print(f"removed {stale.name}, left in {ckpt_dir} by an interrupted checkpoint write")
            specs = {
                **train_specs(config["data"]),
                **({"val": config["data"]["val"]} if config["data"].get("val") else {}),
            }
            write_run_record(run_dir, experiment=current_experiment(), data=data_roots(specs), config=config)
        with StopOnSignal() as stop:
            return _fit(config, ctx, run_dir, stop, started)
    finally:
        if lock is not None:
            lock.release()
        dist.cleanup()


def _fit(
    config: dict[str, Any], ctx: dist.DistContext, run_dir: Path, stop: StopOnSignal, started: float
) -> dict[str, float]:
    say = print if ctx.is_main else (lambda *a, **k: None)
    run = Run(config, ctx, assemble(config, ctx, say), run_dir)
    resume(run, say)
    tr, parts, ckpt_dir = run.tr, run.parts, run.ckpt_dir
    logger = MetricLogger(  # a resumed run drops the killed run's rows after its checkpoint's step
        run_dir, enabled=ctx.is_main, tensorboard=config["logger"]["tensorboard"],
        resume_step=run.step if config.get("resume") else None,
    )  # fmt: skip

    # -- the loop ---------------------------------------------------------------------------------------------
    max_steps, log_every, first_step = int(tr["max_steps"]), int(config["logger"]["log_every"]), run.step

    def stop_step(max_steps: int) -> int:  # trainer.stop_after time-boxes this invocation
        return min(max_steps, first_step + tr["stop_after"]) if tr.get("stop_after") else max_steps

    stop_at = stop_step(max_steps)
    budget = budget_of(tr, started)  # trainer.time_budget_s: probe, then size max_steps to the time left
    clock = BudgetClock(budget, run.step, ctx.device, parts.val_loader is not None) if budget else None
    if clock is not None and tr.get("budgeted_max_steps"):
        clock.sized = True  # a resumed budgeted run keeps its length; the clock still polices the time
    train_model = wrap_for_training(parts.state.model, parts.state.objective, tr, ctx)
    batches = batches_from(parts.streams, run.step * int(tr["grad_accum"]))
    say(
        f"training {parts.model_config['name']} for {max_steps} steps on {ctx.device} "
        f"(world size {ctx.world_size}); run dir {run_dir}"
    )
    baseline, results = {}, {}
    if tr.get("val_at_start") and parts.val_loader is not None and run.step == 0:
        baseline = validate_all(run)  # the untrained model, for "did it learn" checks
        logger.log("val", 0, baseline)
        say(f"step 0: {tr['monitor']} = {baseline.get(tr['monitor'], float('nan')):.4f} (untrained)")
    parts.state.model.train()
    pbar = tqdm(total=max_steps, initial=run.step, dynamic_ncols=True,
                disable=not progress_enabled(ctx.is_main, config["logger"]["progress_bar"]))  # fmt: skip
    log, t_last, rates = new_step_log(ctx.device), time.perf_counter(), []
    while run.step < stop_at:
        if clock is not None:
            clock.before_step(run.step)
        train_step(run, train_model, batches, log)
        run.step += 1
        step = run.step
        pbar.update(1)
        if clock is not None and clock.end_of_probe(step):
            clock.measure_step(step)
        if clock is not None and clock.out_of_time():
            stop_at = step  # the estimate was off: end here, still validated and saved
        if step % log_every == 0 or step == stop_at:
            stop_if_not_finite(run, log)
            row = log_row(log, parts.state.optimizer, ctx, time.perf_counter() - t_last)
            t_last, log.images = time.perf_counter(), 0
            logger.log("train", step, row)
            rates.append(row["images_per_s"])
            pbar.set_postfix(
                loss=f"{row['loss']:.4f}", lr=f"{row['lr']:.2e}", ips=f"{row['images_per_s']:.1f}"
            )
            if pbar.disable:
                say(f"step {step}/{max_steps} epoch {row['epoch']} loss {row['loss']:.4f} "
                    f"lr {row['lr']:.2e} {row['images_per_s']:.1f} img/s")  # fmt: skip
        due = (
            step % tr["val_every"] == 0
            or step == stop_at
            or (clock is not None and clock.validation_due(step))
        )
        if parts.val_loader is not None and due:
            stop_if_not_finite(run, log)  # never validate NaNs
            t_val = now()
            results = validate_all(run)
            if clock is not None:
                clock.note_validation(now() - t_val)
            logger.log("val", step, results)
            value = results[tr["monitor"]]  # the key was checked against the presets before the run
            if run.best is None or (value > run.best if tr["monitor_mode"] == "max" else value < run.best):
                run.best = value
                save_checkpoint(run, ckpt_dir / "best.pt", weights_of_best(tr))
            say(f"step {step}: {tr['monitor']} = {value:.4f} (best {run.best:.4f})")
        if clock is not None and clock.end_of_probe(step):
            max_steps = clock.size(step, int(tr["val_every"]))
            stop_at = stop_step(max_steps)
            resize_schedules(parts.state, config, max_steps, parts.steps_per_epoch, step)
            pbar.total = max_steps
            say(f"time budget {budget.seconds:.0f} s: {1000 * clock.step_s:.1f} ms/step, validation "
                f"{clock.val_s:.1f} s after {budget.elapsed():.0f} s; the schedule now spans {max_steps} steps")  # fmt: skip
        at_boundary = step % log_every == 0 or step % tr["ckpt_every"] == 0 or step == stop_at
        interrupted = step < stop_at and stop_requested(stop, ctx, at_boundary)  # the last step finishes
        if step % tr["ckpt_every"] == 0 or step == stop_at or interrupted:
            stop_if_not_finite(run, log)  # never a NaN last.pt
            t_save = now()
            save_checkpoint(run, ckpt_dir / "last.pt")
            if clock is not None:
                clock.note_save(now() - t_save)
        if interrupted:
            pbar.close()
            logger.close()
            if ctx.is_main:  # where it stopped, for whoever reads the run folder (the zoo's report)
                write_run_record(run_dir, **progress(step, max_steps, started, rates), stopped_by=stop.name)
            raise TrainingInterrupted(
                f"interrupted by {stop.name or 'a signal on another rank'} at step {step}/{max_steps}; "
                f"saved {ckpt_dir / 'last.pt'} (continue with resume=auto or resume=<that file>)",
                stop.signum or 15,
            )
    pbar.close()
    if log.images and not rates:  # a run shorter than one log interval (a budget spent by its probe)
        rates.append(log.images * ctx.world_size / max(time.perf_counter() - t_last, 1e-9))

    # -- summary: final validation, the all-blur floor, the release, the run record ---------------------------
    if config.get("validate_at_end", True) and parts.val_loader is not None and not results:
        results = validate_all(run)
    constant = {}
    if results and parts.val_loader is not None:  # every rank: validate() all-reduces
        constant = validate(AllBlur(), parts.val_loader, ctx, tr["val_presets"], "fp32", tr["val_batches"])
    if ctx.is_main:
        release = save_release(run, ckpt_dir / "last.safetensors")
        write_run_record(
            run_dir, **progress(run.step, max_steps, started, rates), release=str(release),
            release_sha256=file_sha256(release), results=results, stopped_by=None,
            peak_mem_mb=round(torch.cuda.max_memory_allocated(ctx.device) / 2**20, 1)
            if ctx.device.type == "cuda" else None,
        )  # fmt: skip
        print(summary_table(results, baseline, constant) if results else "(no validation set configured)")
        print(
            f"checkpoint: {ckpt_dir / 'last.pt'}\nrelease weights: {release} "
            "(+ .json config; load with dbdzoo.load_model)"
        )
    logger.close()
    dist.barrier()
    return results


def resume(run: Run, say: Any) -> None:
    """Restore every part and the RNG from ``resume=`` (or start at 0): sets ``run.step`` and ``run.best``."""
    config, ctx, parts = run.config, run.ctx, run.parts
    resume_path = resolve_resume(config.get("resume"), run.run_dir, current_experiment())
    if resume_path is not None:
        ckpt = load_checkpoint(resume_path)
        run.step, run.best = parts.state.restore(
            ckpt, resume_path, config=config, model_config=parts.model_config
        )
        if ctx.is_main:
            set_rng_state(ckpt["rng"])
        sized = (ckpt.get("config") or {}).get("trainer", {}).get("budgeted_max_steps")
        if sized:  # trainer.time_budget_s sized that run: keep its schedule's length
            resize_schedules(parts.state, config, int(sized), parts.steps_per_epoch, run.step)
        say(f"resumed from {resume_path} at step {run.step}")
    if not (resume_path is not None and ctx.is_main):
        seed_everything(config["seed"] + ctx.rank + 1_000_003 * run.step)  # per-rank runtime randomness


def validate_all(run: Run) -> dict[str, float]:
    """The model's validation metrics, and the EMA's as ``ema/<preset>/<metric>`` when EMA is on."""
    state, tr = run.state, run.tr
    networks = {"": state.model, **({"ema/": state.ema.module} if state.ema is not None else {})}
    results = {}
    for prefix, network in networks.items():
        scores = validate(
            network, run.parts.val_loader, run.ctx, tr["val_presets"], tr["precision"], tr["val_batches"]
        )
        results.update({f"{prefix}{k}": v for k, v in scores.items()})
    return results


def stop_requested(stop: StopOnSignal, ctx: dist.DistContext, at_boundary: bool) -> bool:
    """Whether any rank got SIGINT/SIGTERM, agreed by all ranks so they stop at the same step.

    One process reads its own flag every step. DDP ranks agree only at log and checkpoint boundaries:
    the all-reduce and ``.item()`` would otherwise add a host–device sync to every step.
    """
    if not ctx.distributed:
        return stop.requested
    if not at_boundary:
        return False
    flag = torch.tensor([1.0 if stop.requested else 0.0], device=ctx.device)
    dist.all_reduce_sum([flag])
    return bool(flag.item() > 0)


def stop_if_not_finite(run: Run, log: StepLog) -> None:
    """Stop every rank together when a loss since the last check was NaN/inf, with a debug checkpoint."""
    ctx = run.ctx
    first_bad = log.first_bad_step.clone()
    bad_ranks = (first_bad >= 0).float()
    if ctx.distributed:  # the earliest bad step over ranks: min via max of negated (-1 = none)
        none = -(2**62)
        first_bad = torch.where(first_bad < 0, torch.full_like(first_bad, none), -first_bad)
        torch.distributed.all_reduce(first_bad, op=torch.distributed.ReduceOp.MAX)
        first_bad = torch.where(first_bad == none, torch.full_like(first_bad, -1), -first_bad)
        dist.all_reduce_sum([bad_ranks])
    bad_step = int(first_bad.item())
    if bad_step < 0:
        return
    debug = run.ckpt_dir / f"debug_step{bad_step}.pt"
    save_checkpoint(run, debug)
    dist.barrier()
    parts = ", ".join(f"{k}={float(v):.4g}" for k, v in log.losses.items())
    raise FloatingPointError(
        f"non-finite loss at step {bad_step} (epoch {log.epoch}) on {int(bad_ranks.item())} rank(s); "
        f"last losses on this rank: {parts}; debug checkpoint (state at step {run.step}): {debug}"
    )


def log_row(log: StepLog, optimizer: torch.optim.Optimizer, ctx: dist.DistContext, elapsed: float) -> dict:
    """The logged row: losses averaged over ranks, learning rate, epoch, throughput."""
    values = torch.stack([v.float().reshape(()) for v in log.losses.values()])
    dist.all_reduce_sum([values])
    row = {k: float(v) / ctx.world_size for k, v in zip(log.losses, values.tolist(), strict=True)}
    row.update(
        lr=optimizer.param_groups[0]["lr"],
        epoch=log.epoch,
        images_per_s=log.images * ctx.world_size / max(elapsed, 1e-9),
    )
    return row
