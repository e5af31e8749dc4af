"""The training loop: one readable function from config to checkpoint (nanoGPT in spirit).

Everything model-specific lives in the model's objective (``objective(model, batch) -> {"loss", ...}``,
optionally with an ``adversary`` the loop steps with its own optimiser); the loop itself only knows
devices, precision, accumulation, DDP, schedules, EMA, validation and checkpoints.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from ..losses import adversary_of
from . import dist
from .builders import (
    build_model,
    build_train_streams,
    build_val_loader,
    check_data_roots,
    model_config_of,
    train_specs,
)
from .checkpoint import atomic_torch_save, export_release, load_checkpoint, set_rng_state
from .loaders import batch_size_of, domain_batches, to_device
from .logger import MetricLogger, progress_enabled, summary_table
from .optim import build_optimizer, build_scheduler
from .provenance import data_roots, file_sha256, write_run_record
from .runtime import configure_determinism, current_experiment, resolve_resume, seed_everything
from .schema import check_train_config
from .state import TrainState
from .validate import AllBlur, autocast_context, validate


def train(cfg: DictConfig | dict) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg.data``; returns the final validation metrics."""
    config = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    tr, data_cfg = config["trainer"], config["data"]
    check_train_config(config)
    check_data_roots(data_cfg)
    configure_determinism(tr["deterministic"])
    ctx = dist.setup(tr["device"], tr["devices"])
    run_dir = Path(config["paths"]["output_dir"])
    ckpt_dir = run_dir / "checkpoints"
    logger = MetricLogger(run_dir, enabled=ctx.is_main, tensorboard=config["logger"]["tensorboard"])
    say = print if ctx.is_main else (lambda *a, **k: None)
    if ctx.is_main:
        specs = {**train_specs(data_cfg), **({"val": data_cfg["val"]} if data_cfg.get("val") else {})}
        write_run_record(run_dir, experiment=current_experiment(), data=data_roots(specs), config=config)

    # -- model, objective, optimisers (identical init on every rank) --------------------------------------
    seed_everything(config["seed"])
    model, objective = build_model(config["model"])
    model.to(ctx.device)
    objective.to(ctx.device)
    if tr["sync_bn"] and ctx.distributed:
        n_params = sum(p.numel() for p in model.parameters())
        model = dist.convert_sync_batchnorm(model)
        if sum(p.numel() for p in model.parameters()) != n_params:  # e.g. DMENet's shift-only BN
            raise ValueError(
                f"trainer.sync_bn=true would drop parameters of {model_config_of(config['model'])['name']}'s custom norm layers; train it with sync_bn=false"
            )
    if tr["channels_last"]:
        model.to(memory_format=torch.channels_last)
    adversary = adversary_of(objective)
    adv_ids = {id(p) for p in adversary.parameters()} if adversary is not None else set()
    objective_params = [
        (n, p) for n, p in objective.named_parameters() if p.requires_grad and id(p) not in adv_ids
    ]
    optimizer = build_optimizer(model, config["optim"], extra=objective_params)
    streams = build_train_streams(data_cfg, ctx, config["seed"])
    accum, max_steps = int(tr["grad_accum"]), int(tr["max_steps"])
    steps_per_epoch = max(1, next(iter(streams.values())).steps_per_epoch // accum)
    scheduler = build_scheduler(optimizer, config["sched"], max_steps, steps_per_epoch)
    adv_optimizer = adv_scheduler = None
    if adversary is not None:
        adv_optimizer = build_optimizer(adversary, config.get("optim_adversary") or config["optim"])
        adv_scheduler = build_scheduler(adv_optimizer, config["sched"], max_steps, steps_per_epoch)
    precision = tr["precision"]
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=precision == "fp16")
    adv_scaler = (
        torch.amp.GradScaler(ctx.device.type, enabled=precision == "fp16") if adversary is not None else None
    )
    ema = None
    if tr["ema"]["enabled"]:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(tr["ema"]["decay"]), use_buffers=True)
    step, best = 0, None
    model_config = model_config_of(config["model"])
    if tr.get("init_from"):  # weights only (fine-tuning, staged schedules); the run itself starts at step 0
        from ..backbones import load_strict
        from ..hub import load_model

        load_strict(model, load_model(tr["init_from"]).state_dict(), str(tr["init_from"]))
        say(f"initialised weights from {tr['init_from']}")

    state = TrainState(
        model, objective, optimizer, scheduler, scaler, adv_optimizer, adv_scheduler, adv_scaler, ema
    )

    # -- resume ---------------------------------------------------------------------------------------------
    resume_path = resolve_resume(config.get("resume"), run_dir, current_experiment())
    if resume_path is not None:
        ckpt = load_checkpoint(resume_path)
        step, best = state.restore(ckpt, resume_path, config=config, model_config=model_config)
        if ctx.is_main:
            set_rng_state(ckpt["rng"])
        say(f"resumed from {resume_path} at step {step}")
    if not (resume_path is not None and ctx.is_main):
        seed_everything(config["seed"] + ctx.rank + 1_000_003 * step)  # per-rank runtime randomness

    def checkpoint(name: str) -> Path | None:
        if not ctx.is_main:
            return None
        payload = state.to_checkpoint(
            step=step, epoch=step // steps_per_epoch, best=best, config=config, model_config=model_config
        )
        return atomic_torch_save(payload, ckpt_dir / name)

    # -- compile, then DDP (timm/nanoGPT order) ---------------------------------------------------------------
    train_model: Any = model
    if tr["compile"]:
        train_model = torch.compile(model, mode=None if tr["compile"] in (True, "default") else tr["compile"])
    if ctx.distributed:
        # objectives that run the network several times per step (one per data domain) keep per-rank BN
        # buffers: broadcasting rank 0's before every forward would mix the domains' statistics
        train_model = DDP(
            train_model,
            device_ids=[ctx.local_rank] if ctx.device.type == "cuda" else None,
            broadcast_buffers=getattr(objective, "ddp_broadcast_buffers", True),
        )
    val_loader = build_val_loader(data_cfg, ctx, config["seed"])
    consumed = step * accum
    if "main" in streams:
        batches = ((e, b) for e, b in streams["main"].iterate(consumed))
    else:
        batches = domain_batches(streams, consumed)

    def run_validation() -> dict[str, float]:
        results = validate(model, val_loader, ctx, tr["val_presets"], precision, tr["val_batches"])
        if ema is not None:
            ema_results = validate(
                ema.module, val_loader, ctx, tr["val_presets"], precision, tr["val_batches"]
            )
            results.update({f"ema/{k}": v for k, v in ema_results.items()})
        return results

    adversary_first = adversary is not None and getattr(objective, "adversary_first", False)

    def step_adversary() -> torch.Tensor:
        """One discriminator update on the features the objective cached (detached)."""
        with autocast_context(ctx.device, precision):
            adv_loss = objective.adversary_loss().float()
        adv_optimizer.zero_grad(set_to_none=True)
        adv_scaler.scale(adv_loss).backward()
        if ctx.distributed:
            dist.average_gradients(list(adversary.parameters()), ctx.world_size)
        adv_scaler.step(adv_optimizer)
        adv_scaler.update()
        return adv_loss.detach()

    # -- the loop ---------------------------------------------------------------------------------------------
    say(
        f"training {model_config['name']} for {max_steps} steps on {ctx.device} (world size {ctx.world_size}); run dir {run_dir}"
    )
    model.train()
    pbar = tqdm(
        total=max_steps,
        initial=step,
        disable=not progress_enabled(ctx.is_main, config["logger"]["progress_bar"]),
        dynamic_ncols=True,
    )
    t_last, seen, epoch, results = time.perf_counter(), 0, step // steps_per_epoch, {}
    baseline: dict[str, float] = {}
    if tr.get("val_at_start") and val_loader is not None and step == 0:
        baseline = run_validation()  # the untrained model, for "did it learn" checks
        logger.log("val", 0, baseline)
        say(f"step 0: {tr['monitor']} = {baseline.get(tr['monitor'], float('nan')):.4f} (untrained)")
    # time-boxed jobs: this job trains at most stop_after steps; the schedule still spans max_steps
    stop_at = min(max_steps, step + tr["stop_after"]) if tr.get("stop_after") else max_steps
    while step < stop_at:
        for micro in range(accum):
            epoch, batch = next(batches)
            batch = to_device(batch, ctx.device, tr["channels_last"])
            no_sync = train_model.no_sync() if ctx.distributed and micro < accum - 1 else nullcontext()
            with no_sync:
                with autocast_context(ctx.device, precision):
                    losses = objective(train_model, batch)
                if adversary_first:  # the original DMENet order: D on this step's features, then G vs new D
                    losses["loss_adversary"] = step_adversary()
                    with autocast_context(ctx.device, precision):
                        g_adv = objective.generator_adversary_loss()
                    losses = {**losses, "loss_adv": g_adv.detach(), "loss": losses["loss"] + g_adv}
                loss = losses["loss"].float()
                bad = (~torch.isfinite(loss)).float()
                dist.all_reduce_sum([bad])  # every rank stops together instead of hanging in backward
                if bad.item() > 0:
                    checkpoint(f"debug_step{step}.pt")
                    dist.barrier()
                    parts = ", ".join(f"{k}={float(v):.4g}" for k, v in losses.items())
                    raise FloatingPointError(
                        f"non-finite loss at step {step} (epoch {epoch}) on {int(bad.item())} rank(s): {parts} "
                        f"(this rank); debug checkpoint: {ckpt_dir / f'debug_step{step}.pt'}"
                    )
                scaler.scale(loss / accum).backward()
            seen += batch_size_of(batch)
        if ctx.distributed and objective_params:
            dist.average_gradients([p for _, p in objective_params], ctx.world_size)
        if tr["clip_grad"]:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(
                [p for g in optimizer.param_groups for p in g["params"]], tr["clip_grad"]
            )
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        if adversary is not None:
            if not adversary_first:
                losses = {**losses, "loss_adversary": step_adversary()}
            adv_scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        step += 1
        pbar.update(1)

        if step % config["logger"]["log_every"] == 0 or step == max_steps:
            values = torch.stack([v.detach().float().reshape(()) for v in losses.values()])
            dist.all_reduce_sum([values])
            row = {k: float(v) / ctx.world_size for k, v in zip(losses, values, strict=True)}
            elapsed = time.perf_counter() - t_last
            row.update(
                lr=optimizer.param_groups[0]["lr"],
                epoch=epoch,
                images_per_s=seen * ctx.world_size / max(elapsed, 1e-9),
            )
            t_last, seen = time.perf_counter(), 0
            logger.log("train", step, row)
            pbar.set_postfix(
                loss=f"{row['loss']:.4f}", lr=f"{row['lr']:.2e}", ips=f"{row['images_per_s']:.1f}"
            )
            if pbar.disable:
                say(
                    f"step {step}/{max_steps} epoch {epoch} loss {row['loss']:.4f} lr {row['lr']:.2e} {row['images_per_s']:.1f} img/s"
                )
        if val_loader is not None and (step % tr["val_every"] == 0 or step == stop_at):
            results = run_validation()
            logger.log("val", step, results)
            if tr["monitor"] not in results:
                raise KeyError(
                    f"trainer.monitor={tr['monitor']!r} is not a validation metric; available: {', '.join(results)}"
                )
            value = results[tr["monitor"]]
            if best is None or (value > best if tr["monitor_mode"] == "max" else value < best):
                best = value
                checkpoint("best.pt")
            say(f"step {step}: {tr['monitor']} = {value:.4f} (best {best:.4f})")
        if step % tr["ckpt_every"] == 0 or step == stop_at:
            checkpoint("last.pt")
    pbar.close()

    # -- summary ----------------------------------------------------------------------------------------------
    if config.get("validate_at_end", True) and val_loader is not None and not results:
        results = run_validation()
    constant = {}
    if results and val_loader is not None:  # every rank: validate() all-reduces
        constant = validate(AllBlur(), val_loader, ctx, tr["val_presets"], "fp32", tr["val_batches"])
    if ctx.is_main:
        last = ckpt_dir / "last.pt"
        release = export_release(
            model, model_config, ckpt_dir / "last.safetensors", {"config": config, "step": step}
        )
        write_run_record(
            run_dir, step=step, release=str(release), release_sha256=file_sha256(release), results=results
        )
        print(summary_table(results, baseline, constant) if results else "(no validation set configured)")
        print(f"checkpoint: {last}\nrelease weights: {release} (+ .json config; load with dbdzoo.load_model)")
    logger.close()
    dist.barrier()
    dist.cleanup()
    return results
