"""One live run per folder, and config values refused before anything is built."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pytest
from helpers.child import Child, run_child

import dbdzoo.engine.loop.fit as train_module
from dbdzoo.engine import train
from dbdzoo.engine.config.resolvers import run_id
from dbdzoo.engine.run_folder import RunFolderInUse, RunFolderLock

REPO = Path(__file__).resolve().parents[2]


def _hold_in_another_process(folder: Path) -> Child:
    """A live process holding ``folder``'s run lock until killed (``kill_group``)."""
    code = (
        "import sys, time; from dbdzoo.engine.run_folder import RunFolderLock; "
        f"RunFolderLock({str(folder)!r}).acquire(); print('held', flush=True); time.sleep(120)"
    )
    holder = Child([sys.executable, "-c", code], name="holder")
    try:
        holder.wait_for_line("held", timeout=120)
    except BaseException:
        holder.close()
        raise
    return holder


def test_a_run_refuses_a_folder_held_by_a_live_run(fast_cfg, tmp_path) -> None:
    holder = _hold_in_another_process(tmp_path / "run")
    try:
        with pytest.raises(RunFolderInUse, match=rf"is in use by another live run \(pid {holder.pid}\)"):
            train(fast_cfg())
    finally:
        holder.close()
    train(fast_cfg())  # released: the same folder trains (and resumes) normally
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_the_command_line_refuses_before_touching_the_live_runs_log(tmp_path) -> None:
    run = tmp_path / "live"
    holder = _hold_in_another_process(run)
    (run / "train.log").write_text("the live run's output\n")
    try:
        proc = run_child([sys.executable, "train.py", "debug=fast", f"hydra.run.dir={run}"], timeout=120)
    finally:
        holder.close()
    assert proc.returncode == 1 and "is in use by another live run" in proc.stderr.splitlines()[0]
    assert (run / "train.log").read_text() == "the live run's output\n"  # nothing of the refused run


def test_one_process_may_claim_its_own_folder_twice(tmp_path) -> None:
    with RunFolderLock(tmp_path) as outer, RunFolderLock(tmp_path):  # entry point, then train()
        assert outer.path.is_file()
    _hold_in_another_process(tmp_path).close()  # fully released: another process can take it


def test_the_lock_of_a_killed_run_is_free(tmp_path) -> None:
    holder = f"from dbdzoo.engine.run_folder import RunFolderLock; import os; RunFolderLock({str(tmp_path)!r}).acquire(); os.kill(os.getpid(), 9)"
    assert run_child([sys.executable, "-c", holder], timeout=120).returncode == -9
    with RunFolderLock(tmp_path) as lock:  # kill -9 released it
        assert lock.path.is_file()


def test_runs_started_in_the_same_second_get_different_folders(monkeypatch) -> None:
    """Two single-process runs whose clocks read the same second, a microsecond apart."""
    times = iter([datetime(2026, 12, 5, 7, 0, 0, 1), datetime(2026, 12, 5, 7, 0, 0, 2)])

    class Clock:
        @staticmethod
        def now() -> datetime:
            return next(times)

    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(sys.modules[run_id.__module__], "datetime", Clock)
    first, second = run_id(), run_id()
    assert first != second, first
    assert [datetime.strptime(i, "%Y-%m-%d_%H-%M-%S_%f") for i in (first, second)] == [
        datetime(2026, 12, 5, 7, 0, 0, 1), datetime(2026, 12, 5, 7, 0, 0, 2),
    ]  # fmt: skip


@pytest.fixture
def nothing_built(monkeypatch):
    built: list[int] = []
    monkeypatch.setattr(train_module, "assemble", lambda *a: built.append(1))
    yield built
    assert not built, "the model and data were built before the bad value was refused"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.train.size=-32", r"config data\.train\.size=-32: expected a positive size or count"),
        ("model.decoder_channels=0", r"config model\.decoder_channels=0: expected a positive size"),
        ("data.batch_size=0", r"config data\.batch_size=0: expected a positive integer"),
        (
            "trainer.monitor=br2net_maxf/Fmax",
            r"trainer\.monitor='br2net_maxf/Fmax' .*did you mean br2net_maxf/F\?",
        ),
        ("trainer.monitor=ema/ddffnet/F", r"trainer\.monitor='ema/ddffnet/F' is not a metric"),
        ("+trainer.max_step=5", r"config trainer\.max_step: unknown key .*did you mean trainer\.max_steps\?"),
        ("+trainer.ema.decays=0.5", r"config trainer\.ema\.decays: unknown key .*trainer\.ema\.decay\?"),
        ("+logger.log_evry=1", r"config logger\.log_evry: unknown key"),
        ("+seeds=3", r"config seeds: unknown key .*did you mean seed\?"),
        (
            "+model.decoder_chanels=8",
            r"config model\.decoder_chanels: not an argument of model 'fpn'; did you mean model\.decoder_channels\?",
        ),
        (
            "+objective.kindd=mse",
            r"config objective\.kindd: not an argument of objective 'deep_supervision'; did you mean objective\.kind\?",
        ),
        (
            "+data.train.lenght=4",
            r"config data\.train\.lenght: not an argument of dataset 'synthetic'; did you mean data\.train\.length\?",
        ),
        (
            "+optim.betas2=0.9",
            r"config optim\.betas2: not an option of optim\.name=adamw; did you mean optim\.betas\?",
        ),
        (
            "+sched.powr=2",
            r"config sched\.powr: not an option of sched\.name=poly; did you mean sched\.power\?",
        ),
        ("optim.name=adamx", r"config optim\.name='adamx': expected one of sgd, adam, adamw"),
        ("data.num_workers=-1", r"config data\.num_workers=-1: expected a non-negative integer"),
        ("trainer.ema.decay=1.5", r"config trainer\.ema\.decay=1\.5: expected a number in \(0, 1\)"),
        ("trainer.devices=0", r"config trainer\.devices=0: expected a positive integer"),
        ("trainer.clip_grad=-1", r"config trainer\.clip_grad=-1: expected a positive number or null"),
        ("trainer.stop_after=0", r"config trainer\.stop_after=0: expected a positive integer or null"),
        ("objective.name=nope", r"config objective\.name='nope': expected one of .*deep_supervision"),
        ("data.train.name=cuhkk", r"config data\.train\.name='cuhkk': unknown dataset 'cuhkk'"),
        ("data.val.name=cuhk+dutt", r"config data\.val\.name='cuhk\+dutt': unknown dataset 'dutt'"),
    ],
)
def test_bad_values_are_refused_before_anything_is_built(fast_cfg, nothing_built, override, message) -> None:
    with pytest.raises(ValueError, match=message):
        train(fast_cfg(override))


def test_ema_monitor_is_accepted_with_ema_on(fast_cfg) -> None:
    results = train(fast_cfg("trainer.monitor=ema/ddffnet/F", "trainer.ema.enabled=true"))
    assert "ema/ddffnet/F" in results


def test_a_typo_key_on_the_command_line_is_one_line(tmp_path) -> None:
    proc = run_child(
        [sys.executable, "train.py", "debug=fast", "+trainer.max_step=5", f"hydra.run.dir={tmp_path}"],
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0].startswith("train: error: config trainer.max_step: unknown key")
    assert "Traceback" not in proc.stderr


EXPERIMENTS = sorted(p.stem for p in (REPO / "configs" / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_as_written_passes_the_checks(experiment, compose_overrides, tmp_path) -> None:
    """The recipes with their real datasets (test_experiments swaps those for the renderer)."""
    from omegaconf import OmegaConf

    import dbdzoo
    from dbdzoo.engine.config.checks import check_component_options
    from dbdzoo.engine.config.schema import check_train_config

    cfg = compose_overrides([f"experiment={experiment}"], tmp_path)
    if OmegaConf.is_missing(cfg.trainer, "init_from"):
        cfg.trainer.init_from = None  # stage 2 recipes: the user names stage 1
    config = OmegaConf.to_container(cfg, resolve=True)
    check_train_config(config)
    check_component_options(config)
    # the recipe took effect: <model>_<data>.yaml trains <model> (quickstart: the default FPN)
    named = max((m for m in dbdzoo.list_models() if experiment.startswith(f"{m}_")), key=len, default="fpn")
    assert config["model"]["name"] == named


def _components(compose_overrides, tmp_path, *overrides: str) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(compose_overrides(list(overrides), tmp_path), resolve=True)


def test_sync_bn_is_refused_before_building_for_norm_layers_it_would_break(
    compose_overrides, tmp_path
) -> None:
    from dbdzoo.engine.config.checks import check_component_options

    config = _components(
        compose_overrides, tmp_path, "model=dmenet", "data=dmenet_domains", "trainer.sync_bn=true"
    )
    with pytest.raises(ValueError, match=r"config trainer\.sync_bn=true: model 'dmenet' as configured"):
        check_component_options(config)
    config["model"]["bn_affine_scale"] = True  # ordinary BatchNorm2d: SyncBN keeps every parameter
    check_component_options(config)


def test_adversary_first_refuses_gradient_accumulation(compose_overrides, tmp_path) -> None:
    from dbdzoo.engine.config.checks import check_component_options

    config = _components(
        compose_overrides, tmp_path, "model=dmenet", "data=dmenet_domains", "trainer.grad_accum=2"
    )
    with pytest.raises(
        ValueError, match=r"config trainer\.grad_accum=2: objective 'dmenet_bdcs' steps its adversary"
    ):
        check_component_options(config)
    config["objective"]["adversary_first"] = False  # D then steps once per optimiser step
    check_component_options(config)
