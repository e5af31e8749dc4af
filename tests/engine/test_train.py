"""The training loop on CPU: fast runs, resume equivalence, checkpoints, guards and bad input."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import dbdzoo
import dbdzoo.engine.loop.fit as train_module
from dbdzoo.engine import train
from dbdzoo.engine.checkpoint import load_checkpoint
from dbdzoo.models import MODELS, DBDModel, ModelOutput, register_model


def test_quickstart_fast_run_writes_checkpoints_logs_and_metrics(fast_cfg, tmp_path, capsys) -> None:
    cfg = fast_cfg()
    assert cfg.model.name == "fpn" and cfg.data.train.name == "synthetic"  # the default groups
    results = train(cfg)
    run = tmp_path / "run"
    assert {"br2net_maxf/F", "sg_cvpr21/F", "ddffnet/F"} <= set(results)
    assert all(0.0 <= v <= 1.0 for k, v in results.items() if k.endswith("/F"))
    for name in ("last.pt", "best.pt", "last.safetensors", "last.json"):
        assert (run / "checkpoints" / name).is_file(), name
    assert (run / "metrics" / "train.csv").read_text().startswith("step,")
    assert len((run / "metrics" / "train.jsonl").read_text().splitlines()) == 2
    out = capsys.readouterr().out
    assert "br2net_maxf/F" in out and "checkpoint:" in out


def test_checkpoint_is_complete_and_loads_with_weights_only(fast_cfg, tmp_path) -> None:
    train(fast_cfg())
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
    assert {
        "model",
        "optimizer",
        "scheduler",
        "scaler",
        "ema",
        "rng",
        "config",
        "model_config",
        "global_step",
    } <= set(ckpt)
    assert ckpt["global_step"] == 2 and ckpt["model_config"]["name"] == "fpn"
    rebuilt = dbdzoo.create_model(**ckpt["model_config"])
    rebuilt.load_state_dict(load_file(tmp_path / "run" / "checkpoints" / "last.safetensors"))


def test_resume_gives_identical_weights(fast_cfg, tmp_path) -> None:
    common = ["trainer.max_steps=4", "trainer.ckpt_every=2", "trainer.val_every=100", "data.train.length=6"]
    train(fast_cfg(*common, out="straight"))
    train(fast_cfg(*common, "trainer.stop_after=2", out="first_half"))
    half = tmp_path / "first_half" / "checkpoints" / "last.pt"
    train(fast_cfg(*common, f"resume={half}", out="resumed"))
    straight = load_file(tmp_path / "straight" / "checkpoints" / "last.safetensors")
    resumed = load_file(tmp_path / "resumed" / "checkpoints" / "last.safetensors")
    assert straight.keys() == resumed.keys()
    for k in straight:
        torch.testing.assert_close(resumed[k], straight[k], rtol=0, atol=0, msg=k)
    # a different number of steps must give different weights, or the comparison above proves nothing
    two = load_file(tmp_path / "first_half" / "checkpoints" / "last.safetensors")
    assert any(not torch.equal(two[k], straight[k]) for k in straight)


def test_resume_refuses_another_model_config(fast_cfg, tmp_path) -> None:
    train(fast_cfg())
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    with pytest.raises(ValueError, match=r"another model config: decoder_channels: 8 in checkpoint, now 16"):
        train(fast_cfg("model.decoder_channels=16", f"resume={ckpt}", out="other"))


def test_resume_auto_continues_in_the_same_run_dir(fast_cfg, tmp_path) -> None:
    train(fast_cfg())
    results = train(fast_cfg("trainer.max_steps=3", "resume=auto"))
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["global_step"] == 3
    assert "br2net_maxf/F" in results


def test_ema_weights_are_validated_alongside(fast_cfg) -> None:
    results = train(fast_cfg("trainer.ema.enabled=true", "trainer.ema.decay=0.5"))
    assert "ema/br2net_maxf/F" in results and "br2net_maxf/F" in results


def test_grad_accumulation_and_clipping_and_bf16_run(fast_cfg) -> None:
    results = train(fast_cfg("trainer.grad_accum=2", "trainer.clip_grad=1.0", "trainer.precision=bf16"))
    assert "sg_cvpr21/F" in results


class _NaNAfterFirstStep(DBDModel):
    """Finite on the first forward, NaN afterwards."""

    def __init__(self) -> None:
        super().__init__(norm_preset="none", input_multiple=1)
        self.w = torch.nn.Parameter(torch.ones(1))
        self.calls = 0

    def forward_normalized(self, x):
        self.calls += 1
        scale = self.w if self.calls < 2 else self.w * float("nan")
        return ModelOutput(logits=x[:, :1] * scale, aux=[], extras={})


@pytest.fixture
def nan_model():
    """Register the NaN network for one test only (the registry is global)."""

    def _nan_after_first_step(**kwargs) -> DBDModel:
        return _NaNAfterFirstStep()

    register_model(_nan_after_first_step)
    yield "_nan_after_first_step"
    MODELS._entries.pop("_nan_after_first_step")


def test_nan_loss_stops_with_step_and_debug_checkpoint(fast_cfg, tmp_path, nan_model) -> None:
    cfg = fast_cfg("trainer.max_steps=5", "trainer.val_every=100", "trainer.val_at_start=false")
    cfg.model = {"name": nan_model}
    with pytest.raises(FloatingPointError, match=r"non-finite loss at step 1 .*debug_step1\.pt"):
        train(cfg)
    assert (tmp_path / "run" / "checkpoints" / "debug_step1.pt").is_file()


def test_nan_is_caught_before_validation_between_log_steps(fast_cfg, tmp_path, nan_model) -> None:
    """``.item()`` runs at the log interval; a validation in between must not score NaN maps first."""
    cfg = fast_cfg("trainer.max_steps=6", "trainer.val_every=2", "logger.log_every=100")
    cfg.model = {"name": nan_model}
    with pytest.raises(FloatingPointError, match=r"non-finite loss at step 1 .*debug_step1\.pt"):
        train(cfg)


def test_missing_dataset_root_fails_before_the_model_is_built(fast_cfg, monkeypatch) -> None:
    built = []

    monkeypatch.setattr(train_module, "assemble", lambda *a: built.append(1))
    cfg = fast_cfg()
    cfg.data.train = {"name": "cuhk", "root": "/nonexistent/CUHK", "split": "train"}
    with pytest.raises(FileNotFoundError, match=r"data.train.root='/nonexistent/CUHK' does not exist"):
        train(cfg)
    assert not built


def test_too_many_gpus_requested_says_so(fast_cfg) -> None:
    have = torch.cuda.device_count()
    with pytest.raises(RuntimeError, match=rf"asks for {have + 1} GPU\(s\) but this machine has {have}"):
        train(fast_cfg("trainer.device=cuda", f"trainer.devices={have + 1}"))


def test_unknown_config_key_fails_at_composition(compose_overrides, tmp_path) -> None:
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="trainer.max_stepz"):
        compose_overrides(["trainer.max_stepz=3"], tmp_path)


def test_composed_dataset_roots_are_each_checked(compose_overrides, tmp_path) -> None:
    from dbdzoo.engine.config.checks import check_dataset_root

    cfg = compose_overrides(["experiment=cenet_cuhk_dut", f"paths.data_dir={tmp_path}"], tmp_path / "run")
    (tmp_path / "CUHK").mkdir()
    spec = dict(cfg.data.train)
    with pytest.raises(FileNotFoundError, match=r"data.train.root.dut='.*DUT-DBD_Dataset' does not exist"):
        check_dataset_root(spec, "data.train")
    (tmp_path / "DUT-DBD_Dataset").mkdir()
    check_dataset_root(spec, "data.train")  # both parts exist now


def test_init_from_loads_weights_only_and_stop_after_counts_this_job(fast_cfg, tmp_path) -> None:
    train(fast_cfg())
    source = tmp_path / "run" / "checkpoints" / "last.safetensors"
    cfg = fast_cfg(
        f"trainer.init_from={source}", "trainer.max_steps=6", "trainer.stop_after=1", out="finetune"
    )
    train(cfg)
    ckpt = load_checkpoint(tmp_path / "finetune" / "checkpoints" / "last.pt")
    assert ckpt["global_step"] == 1  # a fresh run (step 0) that stopped after one step of its 6-step schedule
    resumed = fast_cfg("trainer.max_steps=6", "trainer.stop_after=2", "resume=auto", out="finetune")
    train(resumed)
    assert load_checkpoint(tmp_path / "finetune" / "checkpoints" / "last.pt")["global_step"] == 3
    with pytest.raises(ValueError, match="does not match FPN"):
        train(fast_cfg(f"trainer.init_from={source}", "model.decoder_channels=16", out="bad_init"))


def test_single_process_with_several_devices_warns(fast_cfg) -> None:
    with pytest.warns(UserWarning, match=r"trainer.devices=2 but this is a single process.*torchrun"):
        train(fast_cfg("trainer.devices=2", "trainer.device=cpu"))


def test_run_id_is_shared_by_ranks_or_demanded(monkeypatch) -> None:
    from dbdzoo.engine.config.resolvers import run_id

    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "abc123")
    assert run_id() == "abc123"
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="--standalone.*hydra.run.dir"):
        run_id()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert run_id()[:2] == "20"  # a timestamp for single-process runs


def test_metric_csv_keeps_history_across_restarts_and_new_columns(tmp_path) -> None:
    from dbdzoo.engine.logger import MetricLogger

    first = MetricLogger(tmp_path, tensorboard=False)
    first.log("train", 1, {"loss": 1.0})
    first.log("train", 2, {"loss": 0.5})
    second = MetricLogger(tmp_path, tensorboard=False)  # e.g. a resumed job in the same run dir
    second.log("train", 3, {"loss": 0.25})
    second.log("train", 4, {"loss": 0.2, "lr": 0.1})  # a new column rebuilds the file with a full header
    lines = (tmp_path / "metrics" / "train.csv").read_text().splitlines()
    assert lines[0] == "step,time,loss,lr" and [ln.split(",")[0] for ln in lines[1:]] == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.max_steps=abc", r"trainer.max_steps='abc': expected a positive integer"),
        ("trainer.max_steps=0", r"trainer.max_steps=0: expected a positive integer"),
        ("trainer.precision=fp8", r"trainer.precision='fp8': expected one of fp32, bf16, fp16"),
        ("data.batch_size=2.5", r"data.batch_size=2.5: expected a positive integer"),
        ("trainer.ema.enabled=maybe", r"trainer.ema.enabled='maybe': expected true or false"),
    ],
)
def test_wrong_types_fail_before_anything_is_built(fast_cfg, monkeypatch, override, message) -> None:

    built = []
    monkeypatch.setattr(train_module, "check_data_roots", lambda *a: built.append(1))
    with pytest.raises(ValueError, match=message):
        train(fast_cfg(override))
    assert not built


def test_with_ema_the_release_and_load_model_of_last_pt_mean_the_same_weights(fast_cfg, tmp_path) -> None:
    from dbdzoo.hub import load_model

    train(fast_cfg("trainer.ema.enabled=true", "trainer.ema.decay=0.5"))
    ckpt_dir = tmp_path / "run" / "checkpoints"
    release = load_file(ckpt_dir / "last.safetensors")
    from_ckpt = load_model(ckpt_dir / "last.pt").state_dict()
    raw = load_checkpoint(ckpt_dir / "last.pt")["model"]
    for k in release:
        torch.testing.assert_close(release[k], from_ckpt[k], rtol=0, atol=0, msg=k)
    assert any(not torch.equal(release[k], raw[k]) for k in release)  # the EMA, not the raw network


@pytest.mark.parametrize(("monitor", "expected"), [("ddffnet/F", "raw"), ("ema/ddffnet/F", "ema")])
def test_best_pt_loads_the_network_its_monitor_scored(fast_cfg, tmp_path, monitor, expected) -> None:
    from dbdzoo.hub import load_model

    train(fast_cfg("trainer.ema.enabled=true", "trainer.ema.decay=0.5", f"trainer.monitor={monitor}"))
    best = tmp_path / "run" / "checkpoints" / "best.pt"
    ckpt = load_checkpoint(best)
    assert ckpt["weights"] == expected
    want = (
        ckpt["model"] if expected == "raw" else {k.removeprefix("module."): v for k, v in ckpt["ema"].items()}
    )
    loaded = load_model(best).state_dict()
    assert all(torch.equal(loaded[k], want[k]) for k in loaded)
    assert any(not torch.equal(ckpt["model"][k], loaded[k]) for k in loaded) == (expected == "ema")
