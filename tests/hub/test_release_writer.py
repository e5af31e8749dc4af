"""One writer for every weights file (``save_release``): one metadata key, one layout, atomic, fp16 option,
the working scale carried through, and the EMA agreement between ``load_model("last.pt")`` and the release."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from dbdzoo import create_model
from dbdzoo.hub import CheckpointFormatError, load_model, save_pretrained, save_release
from dbdzoo.hub.checkpoint import CONFIG_METADATA_KEY, WORKING_MAX_SIDE_KEY


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


def test_training_keys_in_a_model_config_are_refused_in_one_line(tiny, tmp_path):
    """No legacy shim: the shipped files hold architecture keys only, so an ``objective`` block or BTBNet's
    old ``loss``/``stage`` in a file's config is an unknown option, named before anything is built."""
    old = tmp_path / "old.safetensors"
    legacy = {**tiny.config, "objective": {"kind": "bce"}, "loss": "bce"}
    save_file(dict(tiny.state_dict()), str(old), metadata={CONFIG_METADATA_KEY: json.dumps(legacy)})
    with pytest.raises(
        CheckpointFormatError,
        match=r"old\.safetensors.*: fpn has no option\(s\) loss, objective; it takes backbone, ",
    ):
        load_model(old)


@pytest.mark.parametrize("how", ["save_pretrained", "save_release", "sidecar", "checkpoint"])
def test_working_max_side_round_trips_through_every_writer(tiny, x, tmp_path, how):
    """The scale the weights were trained at survives saving and loading (issue 22): predict shrinks to it."""
    tiny.working_max_side = 320
    try:
        if how == "save_pretrained":
            path = save_pretrained(tiny, tmp_path / "folder")
        elif how == "save_release":
            path = save_release(tiny, tiny.config, tmp_path / "w.safetensors")
        elif how == "sidecar":  # a file without the metadata key: the run's sidecar JSON supplies it
            path = tmp_path / "plain.safetensors"
            save_file(dict(tiny.state_dict()), str(path))
            (tmp_path / "plain.json").write_text(
                json.dumps({"model_config": tiny.config, "working_max_side": 320})
            )
        else:
            path = tmp_path / "last.pt"
            torch.save(
                {"model_config": tiny.config, "model": tiny.state_dict(), "working_max_side": 320}, path
            )
    finally:
        tiny.working_max_side = None
    back = load_model(path)
    assert back.working_max_side == 320
    assert (
        save_release(back, back.config, tmp_path / "again.safetensors")
        and load_model(tmp_path / "again.safetensors").working_max_side == 320
    )
    assert (
        load_model(save_release(tiny, tiny.config, tmp_path / "native.safetensors")).working_max_side is None
    )
    big = torch.rand(1, 3, 64, 640)  # long side 640 > 320: runs at 32×320, map back at 64×640
    assert back.predict(big).shape == (1, 1, 64, 640)


def test_a_bad_working_max_side_is_refused_in_one_line(tiny, tmp_path):
    path = tmp_path / "w.safetensors"
    save_file(dict(tiny.state_dict()), str(path), metadata={
        CONFIG_METADATA_KEY: json.dumps(tiny.config), WORKING_MAX_SIDE_KEY: "-5"})  # fmt: skip
    with pytest.raises(
        CheckpointFormatError, match=r"w\.safetensors: working_max_side='-5': expected a positive"
    ):
        load_model(path)


def test_ema_release_and_training_checkpoint_hold_the_same_network(tiny, x, tmp_path):
    """EMA on: the loop releases ``ema.module``; ``load_model`` on ``last.pt`` prefers the EMA weights too."""
    raw = {k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in tiny.state_dict().items()}
    ema = {"n_averaged": torch.tensor(3), **{f"module.{k}": v for k, v in tiny.state_dict().items()}}
    torch.save({"model_config": tiny.config, "model": raw, "ema": ema}, tmp_path / "last.pt")
    release = save_release(tiny, tiny.config, tmp_path / "last.safetensors")  # tiny = the EMA network
    from_ckpt, from_release = load_model(tmp_path / "last.pt"), load_model(release)
    torch.testing.assert_close(from_ckpt(x).logits, from_release(x).logits, rtol=0, atol=0)
