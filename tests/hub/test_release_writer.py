"""One writer for every weights file (``save_release``): one metadata key, one layout, atomic, fp16 option,
legacy training keys dropped, and the EMA agreement between ``load_model("last.pt")`` and the release."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from dbdzoo.hub import load_model, save_pretrained, save_release
from dbdzoo.hub.checkpoint import CONFIG_METADATA_KEY
from dbdzoo.models import create_model


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def x():
    return torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def _read(path):
    with safe_open(str(path), framework="pt") as f:
        return f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


def test_release_and_save_pretrained_share_one_layout(tiny, x, tmp_path):
    release = save_release(tiny, tiny.config, tmp_path / "run" / "last.safetensors")
    folder = save_pretrained(tiny, tmp_path / "folder")
    meta_r, state_r = _read(release)
    meta_f, state_f = _read(folder / "model.safetensors")
    assert set(meta_r) == set(meta_f) and CONFIG_METADATA_KEY in meta_r and "model_config" not in meta_r
    assert state_r.keys() == state_f.keys() == tiny.state_dict().keys()
    assert json.loads(meta_r[CONFIG_METADATA_KEY])["name"] == "fpn"
    torch.testing.assert_close(load_model(release)(x).logits, tiny(x).logits, rtol=0, atol=0)
    assert release.stat().st_mode & 0o044  # readable by the group, not mkstemp's 0600
    assert sorted(p.name for p in release.parent.iterdir()) == ["last.safetensors"]  # no temp file left


def test_fp16_option_and_sidecar(tiny, tmp_path):
    path = save_release(
        tiny,
        tiny.config,
        tmp_path / "w.safetensors",
        precision="fp16",
        sidecar={"step": 7},
        metadata={"run": 1},
    )
    meta, state = _read(path)
    assert {v.dtype for k, v in state.items() if "num_batches_tracked" not in k} == {torch.float16}
    assert {v.dtype for k, v in state.items() if "num_batches_tracked" in k} == {torch.int64}
    assert meta["run"] == "1"
    side = json.loads((tmp_path / "w.json").read_text())
    assert side == {"model_config": json.loads(meta[CONFIG_METADATA_KEY]), "step": 7}
    with pytest.raises(ValueError, match="precision"):
        save_release(tiny, tiny.config, tmp_path / "bad.safetensors", precision="bf8")


def test_a_failed_write_keeps_the_previous_file(tiny, tmp_path, monkeypatch):
    import safetensors.torch

    path = save_release(tiny, tiny.config, tmp_path / "w.safetensors")
    before = path.read_bytes()

    def broken(state, filename, metadata=None):
        open(filename, "wb").write(b"half")  # noqa: SIM115
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_release(tiny, tiny.config, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


def test_shared_tensors_are_stored_under_every_name(tmp_path):
    model = create_model("fpn", backbone="tiny_vgg", decoder_channels=8).eval()
    head = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.out_channels == 1)
    twin = next(
        m
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d) and m is not head and m.weight.shape == head.weight.shape
    )
    twin.weight = head.weight  # tied: safetensors alone refuses shared storage
    _, state = _read(save_release(model, model.config, tmp_path / "tied.safetensors"))
    assert state.keys() == model.state_dict().keys()


def test_legacy_training_keys_are_dropped(tiny, x, tmp_path):
    """Files written before issue 16 carry the objective block and BTBNet's loss/stage in the model config."""
    legacy = {**tiny.config, "objective": {"kind": "bce"}, "loss": "bce", "stage": "joint"}
    path = save_release(tiny, legacy, tmp_path / "new.safetensors")
    assert set(json.loads(_read(path)[0][CONFIG_METADATA_KEY])) == set(tiny.config)
    old = tmp_path / "old.safetensors"
    save_file(dict(tiny.state_dict()), str(old), metadata={"model_config": json.dumps(legacy)})
    loaded = load_model(old)
    assert "loss" not in loaded.config and "objective" not in loaded.config
    torch.testing.assert_close(loaded(x).logits, tiny(x).logits, rtol=0, atol=0)


def test_ema_release_and_training_checkpoint_hold_the_same_network(tiny, x, tmp_path):
    """EMA on: the loop releases ``ema.module``; ``load_model`` on ``last.pt`` prefers the EMA weights too."""
    raw = {k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in tiny.state_dict().items()}
    ema = {"n_averaged": torch.tensor(3), **{f"module.{k}": v for k, v in tiny.state_dict().items()}}
    torch.save({"model_config": tiny.config, "model": raw, "ema": ema}, tmp_path / "last.pt")
    release = save_release(tiny, tiny.config, tmp_path / "last.safetensors")  # tiny = the EMA network
    from_ckpt, from_release = load_model(tmp_path / "last.pt"), load_model(release)
    torch.testing.assert_close(from_ckpt(x).logits, from_release(x).logits, rtol=0, atol=0)
