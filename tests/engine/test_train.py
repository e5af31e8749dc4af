"""The training loop on CPU: fast runs, resume equivalence, checkpoints, guards and bad input."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import dbdzoo
from dbdzoo.engine import train
from dbdzoo.engine.checkpoint import load_checkpoint
from dbdzoo.models import MODELS, DBDModel, ModelOutput, register_model


def test_quickstart_fast_run_writes_checkpoints_logs_and_metrics(fast_cfg, tmp_path, capsys) -> None:
    cfg = fast_cfg()
    assert cfg.model.name == "fpn" and cfg.data.train.name == "synthetic"  # no-argument run = quickstart
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


def test_missing_dataset_root_fails_before_the_model_is_built(fast_cfg, monkeypatch) -> None:
    built = []
    import sys

    monkeypatch.setattr(sys.modules["dbdzoo.engine.train"], "build_model", lambda *a: built.append(1))
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
