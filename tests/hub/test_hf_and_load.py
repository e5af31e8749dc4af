"""save_pretrained / from_pretrained / load_model on local files; strictness, offline Hub cache, pickles."""

from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

import pytest
import torch
from helpers.child import run_child
from safetensors.torch import save_file

import dbdzoo
import dbdzoo.models.fpn  # noqa: F401  (registers fpn)
from dbdzoo import create_model
from dbdzoo.hub import (
    CheckpointFormatError,
    ModelReferenceError,
    UnsafeCheckpointError,
    from_pretrained,
    load_model,
    push_to_hub,
    save_pretrained,
)
from dbdzoo.models.fpn import FPN

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    for m in model.modules():  # non-trivial running stats, so buffers are part of the round trip
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def x():
    return torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))


def test_save_pretrained_round_trip(tiny, x, tmp_path):
    folder = save_pretrained(
        tiny, tmp_path / "saved", metrics={"cuhk/btbnet": {"F": 0.5}}, dataset="synthetic"
    )
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["model_config"] == {"name": "fpn", "backbone": "tiny_vgg", "decoder_channels": 8}
    assert config["task"] == "dbd" and config["dbdzoo_version"] == dbdzoo.__version__
    card = (folder / "README.md").read_text()
    assert "library_name: dbdzoo" in card and "dbdzoo.load_model" in card and '"F": 0.5' in card
    for loaded in (
        from_pretrained(str(folder)),
        load_model(folder),
        dbdzoo.create_model("fpn", weights=folder),
    ):
        assert isinstance(loaded, FPN) and not loaded.training
        torch.testing.assert_close(loaded(x).logits, tiny(x).logits, rtol=0, atol=0)
    assert load_model(folder).config == tiny.config  # re-savable


def test_saved_config_never_asks_for_backbone_weights(tiny, x, tmp_path):
    model = create_model("fpn", backbone="tiny_vgg", decoder_channels=8)
    model.load_state_dict(tiny.state_dict())
    # as if trained with ImageNet weights from a local file that the loading machine does not have
    model.config.update(pretrained_backbone=True, backbone_kwargs={"weights": "/nowhere/vgg.safetensors"})
    folder = save_pretrained(model, tmp_path / "saved")
    saved = json.loads((folder / "config.json").read_text())["model_config"]
    assert saved["pretrained_backbone"] is False and saved["backbone_kwargs"] is None
    torch.testing.assert_close(from_pretrained(folder)(x).logits, tiny(x).logits, rtol=0, atol=0)


def test_loading_is_strict_and_lists_keys(tiny, tmp_path):
    state = dict(tiny.state_dict())
    dropped = "fuse.1.weight"
    del state[dropped]
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "partial.safetensors"
    save_file(state, str(path))
    (tmp_path / "partial.json").write_text(json.dumps({"model_config": tiny.config}))
    with pytest.raises(CheckpointFormatError) as info:
        load_model(path)
    assert dropped in str(info.value) and "extra.weight" in str(info.value)
    state = dict(tiny.state_dict(), **{"fuse.1.weight": torch.zeros(1, 8, 3, 3)})
    save_file(state, str(path))
    with pytest.raises(CheckpointFormatError, match="shape mismatches"):
        load_model(path)


def test_safetensors_with_sidecar_and_training_checkpoint_with_ema(tiny, x, tmp_path):
    save_file(tiny.state_dict(), str(tmp_path / "plain.safetensors"))  # no embedded config
    with pytest.raises(CheckpointFormatError, match="no model config"):
        load_model(tmp_path / "plain.safetensors")
    (tmp_path / "plain.json").write_text(json.dumps({"model_config": tiny.config}))
    torch.testing.assert_close(load_model(tmp_path / "plain.safetensors")(x).logits, tiny(x).logits)

    raw = {k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in tiny.state_dict().items()}
    ema = {"n_averaged": torch.tensor(10), **{f"module.{k}": v for k, v in tiny.state_dict().items()}}
    ckpt = {
        "model_config": tiny.config,
        "model": raw,
        "ema": ema,
        "global_step": 7,
    }
    torch.save(ckpt, tmp_path / "last.pt")
    torch.testing.assert_close(load_model(tmp_path / "last.pt")(x).logits, tiny(x).logits, rtol=0, atol=0)
    zeros = load_model(tmp_path / "last.pt", ema=False)
    assert all(float(p.detach().abs().sum()) == 0 for p in zeros.parameters())
    torch.save({k: v for k, v in ckpt.items() if k != "ema"}, tmp_path / "noema.pt")
    with pytest.raises(CheckpointFormatError, match="no 'ema'"):
        load_model(tmp_path / "noema.pt", ema=True)
    # a bare state dict needs the architecture from the caller
    torch.save({f"_orig_mod.{k}": v for k, v in tiny.state_dict().items()}, tmp_path / "sd.pth")
    model = load_model("fpn", weights=tmp_path / "sd.pth", backbone="tiny_vgg", decoder_channels=8)
    torch.testing.assert_close(model(x).logits, tiny(x).logits, rtol=0, atol=0)


class _Exploit:
    """Unpickling this would create a marker file (stands in for arbitrary code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickles_with_code_are_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model_config": {"name": "fpn"}, "model": _Exploit(marker)}, tmp_path / "evil.pt")
    with open(tmp_path / "evil.pth", "wb") as f:  # a legacy raw pickle, not a zip
        pickle.dump({"state_dict": _Exploit(marker)}, f, protocol=2)
    for name in ("evil.pt", "evil.pth"):
        with pytest.raises(UnsafeCheckpointError, match="refused"):
            load_model(tmp_path / name)
    with pytest.raises(UnsafeCheckpointError):
        load_model("fpn", weights=tmp_path / "evil.pt")
    assert not marker.exists()


def test_bad_references_give_one_clear_error(tmp_path):
    with pytest.raises(ModelReferenceError, match="unknown model reference 'no_such_net'"):
        load_model("no_such_net")
    with pytest.raises(ModelReferenceError, match="not both"):
        load_model("fpn:a", weights="b")
    (tmp_path / "junk.pt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointFormatError, match="corrupt or truncated"):
        load_model(tmp_path / "junk.pt")


def _seed_hf_cache(hf_home: Path, repo_id: str, folder: Path) -> None:
    """The huggingface_hub cache layout: models--org--name/{refs/main, snapshots/<commit>/files}."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hf_home / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in folder.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


def test_offline_hub_cache_and_unknown_repo(tiny, x, tmp_path):
    folder = save_pretrained(tiny, tmp_path / "saved")
    _seed_hf_cache(tmp_path / "hf", "lab/fpn-tiny", folder)
    torch.save(tiny(x).logits, tmp_path / "want.pt")
    script = (
        "import sys, torch, dbdzoo.hub as hub\n"
        "torch.set_num_threads(1)\n"
        f"x, want = torch.load({str(tmp_path / 'x.pt')!r}), torch.load({str(tmp_path / 'want.pt')!r})\n"
        "for ref in ('lab/fpn-tiny', 'hf-hub:lab/fpn-tiny'):\n"
        "    torch.testing.assert_close(hub.load_model(ref)(x).logits, want, rtol=0, atol=0)\n"
        "sys.exit(__import__('dbdzoo.cli', fromlist=['main']).main(['info', 'lab/not-cached']))\n"
    )
    torch.save(x, tmp_path / "x.pt")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    env.pop("HF_HUB_CACHE", None)
    proc = run_child([sys.executable, "-c", script], env=env, cwd=REPO, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "lab/not-cached" in lines[0] and "offline" in lines[0], proc.stderr


def test_push_to_hub_uploads_a_saved_folder(tiny, monkeypatch):
    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_repo(self, repo_id, private=None, exist_ok=False):
            calls["repo"] = (repo_id, private, exist_ok)

        def upload_folder(self, repo_id, folder_path, commit_message, revision=None):
            calls["files"] = sorted(p.name for p in Path(folder_path).iterdir())
            return "https://huggingface.co/lab/x/commit/abc"

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = push_to_hub(tiny, "lab/x", private=True, token="t")
    assert url.endswith("/commit/abc") and calls["repo"] == ("lab/x", True, True)
    assert calls["files"] == ["README.md", "config.json", "model.safetensors"]
